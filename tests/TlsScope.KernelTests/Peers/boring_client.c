// A small HTTPS/1.1 client on BoringSSL (Debian's android-libboringssl): a TLS peer whose
// library is not OpenSSL, for the kernel tests. SSL_set_fd on a plain socket, no verification.
//   boring_client HOST PORT PATH [--tls12|--tls13] [--keylog FILE] [--count N]
// Sends N GET requests on one connection (the last with Connection: close) and writes each
// response, headers and body as received, to stdout. The negotiated version goes to stderr.
#define _GNU_SOURCE  // memmem, strcasestr
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static FILE *keylog;

static void die(const char *what) {
  fprintf(stderr, "boring_client: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(2);
}

// BoringSSL's own NSS key log lines: what TlsScope's --keylog output is compared with.
static void on_keylog(const SSL *ssl, const char *line) {
  (void)ssl;
  fprintf(keylog, "%s\n", line);
  fflush(keylog);
}

static int connect_to(const char *host, const char *port) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
  if (getaddrinfo(host, port, &hints, &res) != 0)
    die("cannot resolve the host");
  int fd = -1;
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    die("cannot connect");
  return fd;
}

// The response so far; parsed only to know where it ends.
static char buf[1 << 20];
static size_t len;

// Reads more into buf (and echoes it); 0 at the peer's close.
static int read_more(SSL *ssl) {
  if (len == sizeof buf)
    die("response too large");
  int n = SSL_read(ssl, buf + len, (int)(sizeof buf - len));
  if (n <= 0) {
    int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL)
      return 0;
    die("SSL_read failed");
  }
  fwrite(buf + len, 1, (size_t)n, stdout);
  fflush(stdout);
  len += (size_t)n;
  return 1;
}

// Where a chunked body starting at |p| ends, or 0 when it has not all arrived.
static size_t chunked_end(size_t p) {
  for (;;) {
    char *eol = memmem(buf + p, len - p, "\r\n", 2);
    if (!eol)
      return 0;
    size_t size = strtoul(buf + p, NULL, 16);
    p = (size_t)(eol - buf) + 2;
    if (size == 0) {  // no trailers expected: the final CRLF follows
      return len >= p + 2 ? p + 2 : 0;
    }
    if (len < p + size + 2)
      return 0;
    p += size + 2;
  }
}

// Reads one response: by Content-Length, chunked, or to the close. Returns 0 on close.
static int read_response(SSL *ssl) {
  char *end;
  while (!(end = memmem(buf, len, "\r\n\r\n", 4)))
    if (!read_more(ssl))
      return 0;
  size_t body = (size_t)(end - buf) + 4, total = 0;
  char saved = buf[body - 2];
  buf[body - 2] = '\0';  // header lookups stay inside the headers
  char *cl = strcasestr(buf, "\r\ncontent-length:");
  int chunked = strcasestr(buf, "\r\ntransfer-encoding: chunked") != NULL;
  buf[body - 2] = saved;
  if (cl)
    total = body + strtoul(cl + 17, NULL, 10);
  for (;;) {
    if (chunked && (total = chunked_end(body)) != 0)
      break;
    if (!chunked && cl && len >= total)
      break;
    if (!read_more(ssl))
      return 0;
  }
  memmove(buf, buf + total, len - total);  // keep what belongs to the next response
  len -= total;
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4)
    die("usage: boring_client HOST PORT PATH [--tls12|--tls13] [--keylog FILE] [--count N]");
  const char *host = argv[1], *port = argv[2], *path = argv[3];
  uint16_t version = 0;
  int count = 1;
  for (int i = 4; i < argc; i++) {
    if (!strcmp(argv[i], "--tls12"))
      version = TLS1_2_VERSION;
    else if (!strcmp(argv[i], "--tls13"))
      version = TLS1_3_VERSION;
    else if (!strcmp(argv[i], "--keylog") && i + 1 < argc) {
      if (!(keylog = fopen(argv[++i], "a")))
        die("cannot open the keylog file");
    } else if (!strcmp(argv[i], "--count") && i + 1 < argc)
      count = atoi(argv[++i]);
    else
      die("unknown argument");
  }

  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (!ctx)
    die("SSL_CTX_new failed");
  if (version && !(SSL_CTX_set_min_proto_version(ctx, version) && SSL_CTX_set_max_proto_version(ctx, version)))
    die("cannot pin the version");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  if (keylog)
    SSL_CTX_set_keylog_callback(ctx, on_keylog);

  int fd = connect_to(host, port);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host);
  if (SSL_connect(ssl) != 1)
    die("handshake failed");
  fprintf(stderr, "boring_client: %s %s\n", SSL_get_version(ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));

  for (int i = 0; i < count; i++) {
    char req[2048];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: boring_client\r\nConnection: %s\r\n\r\n",
                     path, host, port, i == count - 1 ? "close" : "keep-alive");
    if (n <= 0 || (size_t)n >= sizeof req || SSL_write(ssl, req, n) != n)
      die("SSL_write failed");
    if (!read_response(ssl)) {
      if (i != count - 1)
        die("connection closed before the last response");
      break;
    }
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return 0;
}
