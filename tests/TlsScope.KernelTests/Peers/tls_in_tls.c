/* TLS inside TLS through OpenSSL's SSL BIO, both ends in one process over 127.0.0.1: each inner
 * connection's BIO is BIO_f_ssl over the outer connection, so every inner read and write calls
 * the outer connection's ssl_read_internal/ssl_write_internal while its own call is running.
 * Usage: tls_in_tls CERT KEY REQUEST. The client sends REQUEST on the inner connection, the server
 * answers "inner reply to " + REQUEST; the client prints the reply. Exit 0 when it came. */
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static SSL_CTX *server_ctx;
static int listener;

static SSL *inner_over(SSL_CTX *ctx, SSL *outer)
{
	SSL *inner = SSL_new(ctx);
	BIO *bio = BIO_new(BIO_f_ssl());
	BIO_set_ssl(bio, outer, BIO_NOCLOSE);
	SSL_set_bio(inner, bio, bio);
	return inner;
}

static void *serve(void *arg)
{
	(void)arg;
	int fd = accept(listener, NULL, NULL);
	SSL *outer = SSL_new(server_ctx);
	SSL_set_fd(outer, fd);
	if (SSL_accept(outer) != 1)
		return NULL;
	SSL *inner = inner_over(server_ctx, outer);
	if (SSL_accept(inner) != 1)
		return NULL;
	char request[512], reply[600];
	int n = SSL_read(inner, request, sizeof(request) - 1);
	if (n <= 0)
		return NULL;
	request[n] = 0;
	int m = snprintf(reply, sizeof(reply), "inner reply to %s", request);
	SSL_write(inner, reply, m);
	SSL_shutdown(inner);
	SSL_shutdown(outer);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	server_ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate_file(server_ctx, argv[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(server_ctx, argv[2], SSL_FILETYPE_PEM) != 1)
		return 3;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(listener, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listener, 1) != 0 ||
	    getsockname(listener, (struct sockaddr *)&a, &len) != 0)
		return 4;
	pthread_t server;
	pthread_create(&server, NULL, serve, NULL);

	SSL_CTX *client_ctx = SSL_CTX_new(TLS_client_method());
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return 5;
	SSL *outer = SSL_new(client_ctx);
	SSL_set_fd(outer, fd);
	if (SSL_connect(outer) != 1)
		return 6;
	SSL *inner = inner_over(client_ctx, outer);
	if (SSL_connect(inner) != 1)
		return 7;
	SSL_write(inner, argv[3], (int)strlen(argv[3]));
	char reply[600];
	int n = SSL_read(inner, reply, sizeof(reply) - 1);
	if (n <= 0)
		return 8;
	reply[n] = 0;
	printf("%s\n", reply);
	pthread_join(server, NULL);
	return 0;
}
