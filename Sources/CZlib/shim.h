#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2/deflateInit2 are macros; Swift cannot call macros, so wrap them. */
static inline int czlib_inflate_init2(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
static inline int czlib_deflate_init_gzip(z_stream *stream, int level) {
    /* 15 + 16: gzip wrapper; 8: default memLevel. */
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
