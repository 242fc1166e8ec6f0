/* A GnuTLS client whose sends meet GNUTLS_E_AGAIN: a non-blocking socket with a small send
 * buffer. Each send that returns E_AGAIN (or E_INTERRUPTED) is repeated with NULL, 0, as GnuTLS's
 * manual allows, until it completes. Usage: gnutls_again PORT BYTES. Sends BYTES of printable
 * 64-byte lines to 127.0.0.1:PORT, closes, and prints "again N" (the E_AGAIN count) to stderr. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	size_t total = strtoul(argv[2], NULL, 10);
	char *data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = i % 64 == 63 ? '\n' : 'a' + (i / 64) % 26;

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return 3;

	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	gnutls_certificate_allocate_credentials(&cred);
	gnutls_init(&s, GNUTLS_CLIENT);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(s, fd);
	if (gnutls_handshake(s) != 0)
		return 4;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	size_t sent = 0;
	unsigned again = 0;
	int pending = 0;
	while (sent < total) {
		ssize_t n = pending ? gnutls_record_send(s, NULL, 0) : gnutls_record_send(s, data + sent, total - sent);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			again++;
			pending = 1;
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, 1000);
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "gnutls_again: %s\n", gnutls_strerror((int)n));
			return 5;
		}
		pending = 0;
		sent += (size_t)n;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	gnutls_bye(s, GNUTLS_SHUT_WR);
	fprintf(stderr, "again %u\n", again);
	return 0;
}
