// The floor under one fibd task on this machine: the hops an F(1) submit-and-await makes, with no work in them.
//
// A client process sends one byte over TCP loopback (TCP_NODELAY) to a relay process, which passes it over a Unix
// stream socket to a worker process; the worker sends it back the same way. That is fibd's path without HTTP,
// JSON, the scheduler or the store: client -> daemon -> worker -> daemon -> client, each process asleep in poll
// until its byte comes, as fibd's event loop (epoll) and its workers (poll) are.
//
// Usage: hops ROUND_TRIPS. Prints "p50 <seconds> p99 <seconds>" over that many round trips after 1,000 not
// counted (warm-up). Exits non-zero if a system call fails.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what) {
    perror(what);
    exit(2);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Waits for one byte on fd (at most 10 s); 0 at end of file.
static int receive(int fd, char *byte) {
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    if (poll(&ready, 1, 10000) != 1) fail("poll");
    ssize_t got = read(fd, byte, 1);
    if (got < 0) fail("read");
    return (int)got;
}

static void send_byte(int fd, char byte) {
    if (write(fd, &byte, 1) != 1) fail("write");
}

static void no_delay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("setsockopt");
}

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 20000;
    if (count < 100 || count > 10000000) {
        fprintf(stderr, "usage: hops ROUND_TRIPS (100 to 10,000,000)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0)
        fail("listen");
    pid_t relay = fork();
    if (relay < 0) fail("fork");
    if (relay == 0) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) fail("socketpair");
        pid_t worker = fork();
        if (worker < 0) fail("fork");
        if (worker == 0) {  // the worker: echoes what the relay sends
            close(pair[0]);
            char byte;
            while (receive(pair[1], &byte) == 1) send_byte(pair[1], byte);
            _exit(0);
        }
        close(pair[1]);
        int client = accept(listener, NULL, NULL);
        if (client < 0) fail("accept");
        no_delay(client);
        char byte;
        while (receive(client, &byte) == 1) {
            send_byte(pair[0], byte);
            if (receive(pair[0], &byte) != 1) fail("worker ended");
            send_byte(client, byte);
        }
        close(pair[0]);
        waitpid(worker, NULL, 0);
        _exit(0);
    }
    close(listener);
    int server = socket(AF_INET, SOCK_STREAM, 0);
    if (server < 0 || connect(server, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
    no_delay(server);
    double *samples = malloc(sizeof(double) * (size_t)count);
    if (samples == NULL) fail("malloc");
    char byte = 'x';
    for (long i = -1000; i < count; i++) {
        double start = now();
        send_byte(server, byte);
        if (receive(server, &byte) != 1) fail("relay ended");
        if (i >= 0) samples[i] = now() - start;
    }
    close(server);
    waitpid(relay, NULL, 0);
    qsort(samples, (size_t)count, sizeof(double), ascending);
    printf("p50 %.9f p99 %.9f\n", samples[count / 2], samples[count * 99 / 100]);
    return 0;
}
