/* A TLS client with OpenSSL linked in statically (Debian's libssl.a): exec-time attach's hard
 * case. It connects, handshakes and writes within a few milliseconds of its exec.
 * Usage: static_client PORT PATH. Prints the response; exit 0 when one came. */
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return 3;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		return 4;
	char request[512];
	int n = snprintf(request, sizeof(request), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", argv[2]);
	if (SSL_write(ssl, request, n) != n)
		return 5;
	char buf[4096];
	int got = SSL_read(ssl, buf, sizeof(buf));
	if (got > 0)
		fwrite(buf, 1, got, stdout);
	SSL_shutdown(ssl);
	return got > 0 ? 0 : 6;
}
