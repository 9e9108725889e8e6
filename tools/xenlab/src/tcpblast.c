// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcpblast: a deterministic TCP transfer between lab guests, the netfront
 * baseline for later benchmarks.
 *
 *   tcpblast recv PORT BYTES          accept one connection, read exactly BYTES,
 *                                     print "recv BYTES bytes SECS s MB/s sum HEX"
 *   tcpblast send HOST PORT BYTES [CHUNK]
 *                                     connect (retrying for 20 s while the peer starts),
 *                                     send BYTES of a fixed pseudo-random stream in
 *                                     CHUNK-byte writes, print the same line
 * Both ends compute FNV-1a over the stream, so equal sums mean every byte arrived.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void fill(uint8_t *p, size_t n, uint32_t *s)
{
	for (size_t i = 0; i < n; i++) {
		*s ^= *s << 13;
		*s ^= *s >> 17;
		*s ^= *s << 5;
		p[i] = (uint8_t)*s;
	}
}

static void report(const char *what, unsigned long long bytes, double secs, uint64_t sum)
{
	printf("%s %llu bytes %.3f s %.1f MB/s sum %016llx\n", what, bytes, secs,
	       secs > 0 ? (double)bytes / secs / 1e6 : 0.0, (unsigned long long)sum);
}

static int do_recv(int port, unsigned long long bytes)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), s;
	uint8_t buf[65536];
	uint64_t sum = 0xcbf29ce484222325ull;
	unsigned long long got = 0;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1)) {
		perror("tcpblast recv: listen");
		return 1;
	}
	s = accept(ls, NULL, NULL);
	if (s < 0) {
		perror("tcpblast recv: accept");
		return 1;
	}
	double t0 = now();
	while (got < bytes) {
		size_t want = bytes - got < sizeof(buf) ? (size_t)(bytes - got) : sizeof(buf);
		ssize_t n = read(s, buf, want);
		if (n <= 0) {
			fprintf(stderr, "tcpblast recv: connection ended after %llu of %llu bytes: %s\n",
				got, bytes, n ? strerror(errno) : "EOF");
			return 1;
		}
		sum = fnv(sum, buf, (size_t)n);
		got += (unsigned long long)n;
	}
	report("recv", got, now() - t0, sum);
	close(s);
	close(ls);
	return 0;
}

static int do_send(const char *host, int port, unsigned long long bytes, size_t chunk)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t *buf = malloc(chunk);
	uint32_t seed = 2463534242u;
	uint64_t sum = 0xcbf29ce484222325ull;
	unsigned long long sent = 0;
	int s = -1;

	if (!buf || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "tcpblast send: bad host '%s'\n", host);
		free(buf);
		return 1;
	}
	for (double t = now(); now() - t < 20; usleep(100000)) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(s);
		s = -1;
	}
	if (s < 0) {
		fprintf(stderr, "tcpblast send: cannot connect to %s:%d\n", host, port);
		free(buf);
		return 1;
	}
	double t0 = now();
	while (sent < bytes) {
		size_t n = bytes - sent < chunk ? (size_t)(bytes - sent) : chunk;
		fill(buf, n, &seed);
		sum = fnv(sum, buf, n);
		for (size_t off = 0; off < n;) {
			ssize_t w = write(s, buf + off, n - off);
			if (w <= 0) {
				perror("tcpblast send: write");
				close(s);
				free(buf);
				return 1;
			}
			off += (size_t)w;
		}
		sent += n;
	}
	/* Wait for the receiver to close: then every byte was read, not just queued. */
	shutdown(s, SHUT_WR);
	while (read(s, buf, chunk) > 0)
		;
	report("send", sent, now() - t0, sum);
	close(s);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]), strtoull(argv[3], NULL, 10));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10),
			       argc == 6 ? (size_t)strtoul(argv[5], NULL, 10) : 65536);
	fprintf(stderr, "usage: tcpblast recv PORT BYTES | send HOST PORT BYTES [CHUNK]\n");
	return 2;
}
