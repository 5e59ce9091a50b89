// zlib, for reading .gz dataset files (gzopen/gzread handle gzip members).
#include <zlib.h>
