#ifndef CEVENTLOOP_H
#define CEVENTLOOP_H
/* Glibc's Swift overlay does not expose <sys/epoll.h>, and struct epoll_event is packed on x86_64.
   These inline wrappers keep the packed struct on the C side: Swift sees plain integers. */
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

enum {
    CEL_EPOLLIN = EPOLLIN,
    CEL_EPOLLOUT = EPOLLOUT,
    CEL_EPOLLERR = EPOLLERR,
    CEL_EPOLLHUP = EPOLLHUP,
    CEL_EPOLLRDHUP = EPOLLRDHUP,
};

/* The mask every connection is registered with: edge-triggered read, write and peer half-close. */
static inline uint32_t cel_connection_events(void) { return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET; }

static inline int cel_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/* Registers fd with the given event mask; `token` comes back with each event. */
static inline int cel_epoll_add(int epfd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static inline int cel_epoll_del(int epfd, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

/* Waits for at most `max` (<= 256) events, unpacking them into two parallel arrays. */
static inline int cel_epoll_wait(int epfd, uint32_t *events, uint64_t *tokens, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i] = evs[i].events;
        tokens[i] = evs[i].data.u64;
    }
    return n;
}

static inline int cel_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static inline int cel_socket_stream(int family) {
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* glibc declares accept4 only under _GNU_SOURCE, which would make this module's libc types differ from other
   modules'; declare the prototype instead. */
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

static inline int cel_accept(int fd) {
    return accept4(fd, (struct sockaddr *)0, (socklen_t *)0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static inline int cel_set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

static inline ssize_t cel_send(int fd, const void *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL);
}

static inline int cel_sol_socket(void) { return SOL_SOCKET; }
static inline int cel_so_reuseaddr(void) { return SO_REUSEADDR; }
static inline int cel_ipproto_tcp(void) { return IPPROTO_TCP; }
static inline int cel_tcp_nodelay(void) { return TCP_NODELAY; }
#endif
