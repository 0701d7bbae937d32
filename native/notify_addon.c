/*
 * hostnetd's sd_notify: one call, notify(state) -> boolean, that sends `state` (for example
 * "READY=1") as one datagram to the AF_UNIX socket systemd names in $NOTIFY_SOCKET, as
 * sd_notify(3) describes. Native because Node has no unix datagram sockets, and sent from the
 * daemon's own PID so that systemd accepts it under the default NotifyAccess=main (a
 * `systemd-notify` child may exit before systemd can tell which unit it belongs to).
 * Returns false when $NOTIFY_SOCKET is unset (not started by systemd); throws when the
 * socket is set but the message cannot be sent.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>

static napi_value make_bool(napi_env env, int value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

static napi_value notify(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char state[4096];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], state, sizeof state, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "notify(state): state must be a string");
    return NULL;
  }
  if (len >= sizeof state - 1) {
    napi_throw_range_error(env, NULL, "notify(state): state longer than 4 KiB");
    return NULL;
  }
  const char *path = getenv("NOTIFY_SOCKET");
  if (path == NULL || path[0] == '\0') return make_bool(env, 0);

  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t path_len = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || path_len >= sizeof addr.sun_path) {
    napi_throw_error(env, NULL, "NOTIFY_SOCKET is not an absolute or abstract unix socket path");
    return NULL;
  }
  memcpy(addr.sun_path, path, path_len);
  if (path[0] == '@') addr.sun_path[0] = '\0'; /* abstract namespace */
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  ssize_t sent = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
  int saved = errno;
  close(fd);
  if (sent < 0 || (size_t)sent != len) {
    napi_throw_error(env, NULL, sent < 0 ? strerror(saved) : "short write to NOTIFY_SOCKET");
    return NULL;
  }
  return make_bool(env, 1);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "notify", NAPI_AUTO_LENGTH, notify, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "notify", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
