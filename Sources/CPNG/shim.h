// libpng (Debian libpng-dev), for decoding and encoding PNG image files. Its
// errors longjmp, which Swift cannot catch: only the C target CPNGCodec calls it.
#include <png.h>
