/* textbuf.h: a growing text buffer for the JSON limitr writes (the canonical
 * policy text, state documents). Out of memory is sticky: every later put
 * is a no-op and take returns NULL, so writers check once at the end. */
#ifndef LIMITR_TEXTBUF_H
#define LIMITR_TEXTBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct textbuf {
    char *s; /* NUL-terminated while not NULL */
    size_t n, cap;
    int nomem;
} textbuf;

void limitr__tb_put(textbuf *b, const char *s, size_t len);
/* s (len bytes) and a NUL after it, both kept: the next put starts past
 * the NUL. */
void limitr__tb_put_z(textbuf *b, const char *s, size_t len);
void limitr__tb_puts(textbuf *b, const char *s);
/* s (len bytes) as a JSON string, escaping only '"', '\' and U+0000-U+001F
 * (\n \r \t \b \f, else \u00xx). */
void limitr__tb_string(textbuf *b, const char *s, size_t len);
void limitr__tb_int(textbuf *b, int64_t v);
/* The shortest decimal that reads back as x (finite), without exponent:
 * "0.000000001", "1500". */
void limitr__tb_double(textbuf *b, double x);
/* The text (malloc'ed, the caller's) and its length; NULL when memory ran
 * out (the buffer is freed either way). */
char *limitr__tb_take(textbuf *b, size_t *len);
void limitr__tb_free(textbuf *b);

#endif
