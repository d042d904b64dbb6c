/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/http/: the parser's internal states and the character classes of
 * RFC 9110 §5.6.2 (tchar) and RFC 3986 (request-target and Host characters).
 */
#ifndef SP_HTTP_INTERNAL_H
#define SP_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* Parser states (struct sp_http_req.ps). */
enum http_ps {
	HTTP_PS_LINE = 0,  /* head: request line and header field lines, one line at a time */
	HTTP_PS_H2_TAIL,   /* "PRI * HTTP/2.0" seen: matching the rest of the HTTP/2 preface */
	HTTP_PS_BODY_CL,   /* Content-Length body */
	HTTP_PS_CH_SIZE,   /* chunk-size hex digits */
	HTTP_PS_CH_WS,	   /* BWS after the size: only ';' may follow */
	HTTP_PS_CH_EXT,	   /* chunk extensions, skipped up to CR */
	HTTP_PS_CH_SIZE_LF, /* LF after the chunk-size line's CR */
	HTTP_PS_CH_DATA,   /* chunk data */
	HTTP_PS_CH_DATA_CR, /* CR after chunk data */
	HTTP_PS_CH_DATA_LF, /* LF after chunk data */
	HTTP_PS_TRAILER,   /* trailer field lines after the last chunk, up to the empty line */
	HTTP_PS_DONE,
	HTTP_PS_ERROR,
};

/* Character classes, one bit each in http_class[] (http_parse.c). */
#define HTTP_C_TCHAR 0x01u  /* token character (RFC 9110 §5.6.2) */
#define HTTP_C_TARGET 0x02u /* request-target character (RFC 3986 pchar, '/', '?', '[', ']') */
#define HTTP_C_HOST 0x04u   /* Host value character (RFC 3986 reg-name, IP-literal, port) */
#define HTTP_C_HEX 0x08u    /* HEXDIG, either case */

extern const uint8_t sp_http_class[256];

/* Field-value octet (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB. */
static inline bool
http_is_field_char(uint8_t c)
{
	return (c >= 0x20 && c != 0x7f) || c == '\t';
}

static inline bool
http_is_tchar(uint8_t c)
{
	return (sp_http_class[c] & HTTP_C_TCHAR) != 0;
}

static inline uint8_t
http_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

#endif /* SP_HTTP_INTERNAL_H */
