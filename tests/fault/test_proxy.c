/* test_proxy.c: fault-proxy forwards, cuts, black-holes, heals, delays, resets and duplicates. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * test-proxy PROXY_BINARY: an echo server stands for node 2; the proxy's
 * link 1->2 sits in front of it; commands go through a FIFO. Exit 0 if every
 * check holds, 1 otherwise (each failure named on stderr).
 */

static int failures;

#define CHECK(cond, what)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			fprintf(stderr, "ok: %s\n", what);                                         \
		} else {                                                                           \
			fprintf(stderr, "FAIL: %s (%s)\n", what, #cond);                           \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static int listen_any(uint16_t *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s, 16) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		perror("echo server");
		exit(2);
	}
	*port = ntohs(a.sin_port);
	return s;
}

static void *echo_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char buf[65536];
	ssize_t n;
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		if (write(c, buf, (size_t)n) != n) {
			break;
		}
	}
	close(c);
	return NULL;
}

static void *echo_server(void *arg)
{
	int s = (int)(intptr_t)arg;
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			continue;
		}
		pthread_t t;
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
	return NULL;
}

/* A node that resets every connection it accepts, at once. */
static void *rst_server(void *arg)
{
	int s = (int)(intptr_t)arg;
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			continue;
		}
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		usleep(10000);
		close(c);
	}
	return NULL;
}

static int dial(uint16_t port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(s);
		return -1;
	}
	return s;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read up to @want bytes within @timeout_ms. Returns the count, or -1 on reset/EOF first. */
static ssize_t recv_for(int s, char *buf, size_t want, int timeout_ms)
{
	size_t got = 0;
	double end = now_s() + timeout_ms / 1000.0;
	while (got < want) {
		int left = (int)((end - now_s()) * 1000);
		if (left <= 0) {
			break;
		}
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (poll(&p, 1, left) <= 0) {
			break;
		}
		ssize_t n = read(s, buf + got, want - got);
		if (n <= 0) {
			return got > 0 ? (ssize_t)got : -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Send @n bytes and read them back: the seconds it took, or -1 if it failed. */
static double round_trip(int s, size_t n)
{
	char *out = malloc(n), *in = malloc(n);
	for (size_t i = 0; i < n; i++) {
		out[i] = (char)('a' + i % 26);
	}
	double t = now_s();
	size_t sent = 0;
	double r = -1;
	while (sent < n) {
		ssize_t w = write(s, out + sent, n - sent > 65536 ? 65536 : n - sent);
		if (w <= 0) {
			goto out;
		}
		sent += (size_t)w;
		/* Read back as we go, so neither side's buffers fill. */
		ssize_t g = recv_for(s, in + sent - (size_t)w, (size_t)w, 5000);
		if (g != w) {
			goto out;
		}
	}
	if (memcmp(in, out, n) == 0) {
		r = now_s() - t;
	}
out:
	free(out);
	free(in);
	return r;
}

static FILE *ctl;

static void command(const char *c)
{
	fprintf(ctl, "%s\n", c);
	fflush(ctl);
	usleep(200000);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test-proxy FAULT_PROXY\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(120); /* whatever happens, never hang the test run */
	uint16_t target, lport;
	int srv = listen_any(&target);
	pthread_t t;
	pthread_create(&t, NULL, echo_server, (void *)(intptr_t)srv);
	uint16_t rst_target, rst_port;
	int rsrv = listen_any(&rst_target);
	pthread_t t2;
	pthread_create(&t2, NULL, rst_server, (void *)(intptr_t)rsrv);
	/* Free ports for the proxy: bind, release, hand over. */
	int probe = listen_any(&lport);
	int probe2 = listen_any(&rst_port);
	close(probe);
	close(probe2);

	char dir[] = "/tmp/qfs-proxytest.XXXXXX";
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	char fifo[64], link[64], rst_link[64];
	snprintf(fifo, sizeof(fifo), "%s/ctl", dir);
	snprintf(link, sizeof(link), "1:2:%u:%u", lport, target);
	snprintf(rst_link, sizeof(rst_link), "1:3:%u:%u", rst_port, rst_target);
	if (mkfifo(fifo, 0600) != 0) {
		perror("mkfifo");
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, STDOUT_FILENO);
		execl(argv[1], argv[1], "--control", fifo, "--link", link, "--link", rst_link,
		      (char *)NULL);
		_exit(127);
	}
	ctl = fopen(fifo, "r+"); /* O_RDWR: a FIFO opened so never blocks */
	int c = -1;
	for (int i = 0; i < 50 && (c = dial(lport)) < 0; i++) {
		usleep(100000);
	}
	CHECK(c >= 0, "the proxy accepts on its link port");
	if (c < 0) {
		goto out;
	}

	double rt = round_trip(c, 1000);
	CHECK(rt >= 0 && rt < 0.5, "bytes are forwarded both ways");
	CHECK(round_trip(c, 8 << 20) >= 0, "8 MiB pass through the bounded buffers intact");

	command("delay 1 2 300");
	rt = round_trip(c, 100);
	CHECK(rt >= 0.29 && rt < 2, "delay 1 2 300 holds the forward direction 300 ms");
	command("delay 1 2 0");

	command("cut 1 2");
	char buf[64];
	CHECK(recv_for(c, buf, 1, 1000) < 0, "cut closes the existing connection");
	close(c);
	c = dial(lport);
	CHECK(c >= 0, "a cut link still accepts (black hole)");
	CHECK(write(c, "hi", 2) == 2 && recv_for(c, buf, 2, 700) == 0,
	      "a black-holed connection forwards nothing and stays open");
	command("heal 1 2");
	CHECK(recv_for(c, buf, 1, 1000) < 0, "heal closes black-holed connections");
	close(c);
	c = dial(lport);
	CHECK(c >= 0 && round_trip(c, 1000) >= 0, "after heal new connections forward again");

	command("loss 1 2 100");
	CHECK(round_trip(c, 100) < 0, "loss 1 2 100 resets the connection");
	close(c);
	command("heal-all");
	command("dup 1 2 100");
	c = dial(lport);
	CHECK(c >= 0 && write(c, "abc", 3) == 3 && recv_for(c, buf, 6, 1000) == 6 &&
	              memcmp(buf, "abcabc", 6) == 0,
	      "dup 1 2 100 sends every chunk twice");
	close(c);
	command("heal-all");
	c = dial(lport);
	CHECK(c >= 0 && round_trip(c, 1000) >= 0, "heal-all clears duplication");
	close(c);

	/* Writes into connections the peer reset (SIGPIPE once killed the proxy mid-soak). */
	static char big[200000];
	for (int i = 0; i < 400 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
		int r = dial(rst_port);
		if (r >= 0) {
			ssize_t w = write(r, big, sizeof(big));
			(void)w;
			close(r);
		}
	}
	usleep(300000);
	CHECK(waitpid(pid, NULL, WNOHANG) == 0, "writes to reset peers do not kill the proxy");
	c = dial(lport);
	CHECK(c >= 0 && round_trip(c, 1000) >= 0, "and it still forwards");
	close(c);
out:
	kill(pid, SIGTERM);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the proxy exits 0 on SIGTERM");
	if (ctl != NULL) {
		fclose(ctl);
	}
	unlink(fifo);
	rmdir(dir);
	return failures == 0 ? 0 : 1;
}
