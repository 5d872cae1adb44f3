// TCP keepalive on the node's client connections, as Redis's tcp-keepalive
// (default 300) sets it on its clients': after that many idle seconds the
// kernel probes the peer every third of it, three times, then drops the
// connection. Without it a client whose host vanished (or a follower cut off
// for good) kept its session on the node for ever, and a blocked command of
// that session would take the next element pushed and lose it.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace node {

inline constexpr int kTcpKeepAliveSeconds = 300;  // Redis's default; the child's CONFIG GET shows it

inline void SetTcpKeepAlive(int fd, int seconds = kTcpKeepAliveSeconds) {
  const int on = 1;
  const int interval = seconds / 3 > 0 ? seconds / 3 : 1;
  const int probes = 3;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof(seconds));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

}  // namespace node
