// libjpeg-turbo's TurboJPEG API, for decoding and encoding JPEG image files
// (Debian libturbojpeg0-dev). Its calls report errors by return value and
// tjGetErrorStr2/tjGetErrorCode, never by longjmp, so Swift calls it directly.
#include <stddef.h>
#include <turbojpeg.h>
