// hostnetd's libvirt binding: a small N-API addon over libvirt's C API.
//
// Threading model (the reasons behind the shape of this file):
// - Every libvirt call that can block (all of them, for a remote URI) runs in a Napi::AsyncWorker
//   on libuv's thread pool and settles a Promise. libvirt's last error is thread-local, so it is
//   read on that same worker thread, right after the failing call.
// - libvirt's default event loop is registered once, when the addon loads (before any connection
//   opens), and runs on one thread of the addon. Event callbacks run on that thread and reach JS
//   through a Napi::ThreadSafeFunction per connection.
// - A connection is refcounted with libvirt's own counter: each call takes a virConnectRef() on
//   the JS thread before it is queued and drops it on the worker thread when done, so close() can
//   run while calls are in flight; the last reference really closes the connection.
// - The JS side never holds virNetworkPtr/virDomainPtr: calls look objects up by name or UUID
//   inside the worker and free them there, so no libvirt object outlives its call.

#include <napi.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

// ---------- a tiny value tree, filled on the worker thread, turned into JS on the main thread

struct Val {
  enum Kind { Undef, Null, Bool, Num, Str, Obj, Arr } kind = Undef;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<std::pair<std::string, Val>> obj;
  std::vector<Val> arr;

  static Val boolean(bool v) { Val x; x.kind = Bool; x.b = v; return x; }
  static Val number(double v) { Val x; x.kind = Num; x.n = v; return x; }
  static Val string(std::string v) { Val x; x.kind = Str; x.s = std::move(v); return x; }
  static Val object() { Val x; x.kind = Obj; return x; }
  static Val array() { Val x; x.kind = Arr; return x; }
  Val& set(const char* key, Val v) { obj.emplace_back(key, std::move(v)); return *this; }

  Napi::Value toJs(Napi::Env env) const {
    switch (kind) {
      case Undef: return env.Undefined();
      case Null: return env.Null();
      case Bool: return Napi::Boolean::New(env, b);
      case Num: return Napi::Number::New(env, n);
      case Str: return Napi::String::New(env, s);
      case Obj: {
        Napi::Object o = Napi::Object::New(env);
        for (const auto& kv : obj) o.Set(kv.first, kv.second.toJs(env));
        return o;
      }
      case Arr: {
        Napi::Array a = Napi::Array::New(env, arr.size());
        for (size_t i = 0; i < arr.size(); i++) a.Set(static_cast<uint32_t>(i), arr[i].toJs(env));
        return a;
      }
    }
    return env.Undefined();
  }
};

// ---------- errors

struct LvError {
  int code = VIR_ERR_INTERNAL_ERROR;
  int domain = VIR_FROM_NONE;
  std::string message;
};

// Must run on the thread that made the failing call: libvirt keeps the last error per thread.
LvError lastError(const char* fallback) {
  LvError e;
  virErrorPtr err = virGetLastError();
  if (err != nullptr) {
    e.code = err->code;
    e.domain = err->domain;
    e.message = err->message != nullptr ? err->message : fallback;
  } else {
    e.message = fallback;
  }
  virResetLastError();
  return e;
}

// libvirt prints every error to stderr by default; hostnetd reports them itself.
void silentErrorHandler(void*, virErrorPtr) {}

Napi::Error toJsError(Napi::Env env, const LvError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  err.Value().Set("libvirtCode", Napi::Number::New(env, e.code));
  err.Value().Set("libvirtDomain", Napi::Number::New(env, e.domain));
  return err;
}

// ---------- the default event loop, started once per process

std::once_flag eventLoopOnce;
std::atomic<bool> eventLoopOk{false};

void startEventLoop() {
  std::call_once(eventLoopOnce, [] {
    virSetErrorFunc(nullptr, silentErrorHandler);
    if (virInitialize() < 0) return;
    if (virEventRegisterDefaultImpl() < 0) return;
    eventLoopOk = true;
    // Detached: the process exits with it. The loop never ends on its own; an exit of the
    // Node process is the only way it stops, which is what a daemon wants.
    std::thread([] {
      for (;;) {
        if (virEventRunDefaultImpl() < 0) virResetLastError();
      }
    }).detach();
  });
}

// ---------- connection state

struct Event {
  std::string type;  // domain-lifecycle | domain-device-added | domain-device-removed | network-lifecycle | closed
  std::string name;
  std::string uuid;
  int event = 0;
  int detail = 0;
  std::string device;
};

void deliverEvent(Napi::Env env, Napi::Function fn, void*, Event* ev) {
  if (env != nullptr && fn != nullptr) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", ev->type);
    if (!ev->name.empty()) o.Set("name", ev->name);
    if (!ev->uuid.empty()) o.Set("uuid", ev->uuid);
    o.Set("event", ev->event);
    o.Set("detail", ev->detail);
    if (!ev->device.empty()) o.Set("device", ev->device);
    fn.Call({o});
  }
  delete ev;
}

using Tsfn = Napi::TypedThreadSafeFunction<void, Event, deliverEvent>;

// One per registered callback: owns a thread count of the connection's TSFN, released by
// libvirt's free callback when the registration ends.
struct Sink {
  Tsfn tsfn;
};

void freeSink(void* opaque) {
  Sink* s = static_cast<Sink*>(opaque);
  s->tsfn.Release();
  delete s;
}

void post(void* opaque, Event* ev) {
  Sink* s = static_cast<Sink*>(opaque);
  if (s->tsfn.NonBlockingCall(ev) != napi_ok) delete ev;
}

std::string domainUuid(virDomainPtr dom) {
  char buf[VIR_UUID_STRING_BUFLEN];
  return virDomainGetUUIDString(dom, buf) == 0 ? std::string(buf) : std::string();
}

std::string networkUuid(virNetworkPtr net) {
  char buf[VIR_UUID_STRING_BUFLEN];
  return virNetworkGetUUIDString(net, buf) == 0 ? std::string(buf) : std::string();
}

int onDomainLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  auto* ev = new Event{"domain-lifecycle", virDomainGetName(dom), domainUuid(dom), event, detail, ""};
  post(opaque, ev);
  return 0;
}

void onDeviceAdded(virConnectPtr, virDomainPtr dom, const char* alias, void* opaque) {
  post(opaque, new Event{"domain-device-added", virDomainGetName(dom), domainUuid(dom), 0, 0, alias ? alias : ""});
}

void onDeviceRemoved(virConnectPtr, virDomainPtr dom, const char* alias, void* opaque) {
  post(opaque, new Event{"domain-device-removed", virDomainGetName(dom), domainUuid(dom), 0, 0, alias ? alias : ""});
}

void onNetworkLifecycle(virConnectPtr, virNetworkPtr net, int event, int detail, void* opaque) {
  post(opaque, new Event{"network-lifecycle", virNetworkGetName(net), networkUuid(net), event, detail, ""});
}

void onClose(virConnectPtr, int reason, void* opaque) {
  post(opaque, new Event{"closed", "", "", reason, 0, ""});
}

struct ConnState {
  std::mutex mu;
  virConnectPtr conn = nullptr;  // the owner's reference; null until open and once closed
  bool closed = false;           // close() was called (maybe before open finished)
  bool hasTsfn = false;
  Tsfn tsfn;                     // the owner's thread count, released on close
  std::vector<int> domainCbs;
  std::vector<int> networkCbs;
  bool closeCb = false;

  // JS thread: a reference for one call, or null if the connection is closed.
  virConnectPtr acquire() {
    std::lock_guard<std::mutex> lock(mu);
    if (conn == nullptr) return nullptr;
    virConnectRef(conn);
    return conn;
  }
};

using StatePtr = std::shared_ptr<ConnState>;

// Worker thread: register every event callback; failures are not fatal (a driver may lack
// an event kind), the TS layer learns which ones took from the result.
Val registerEvents(ConnState& st, virConnectPtr conn) {
  Val got = Val::array();
  if (!st.hasTsfn) return got;
  struct DomReg { int id; virConnectDomainEventGenericCallback cb; const char* name; };
  const DomReg doms[] = {
      {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(onDomainLifecycle), "domain-lifecycle"},
      {VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(onDeviceAdded), "domain-device-added"},
      {VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(onDeviceRemoved), "domain-device-removed"},
  };
  for (const auto& d : doms) {
    st.tsfn.Acquire();
    auto* sink = new Sink{st.tsfn};
    int id = virConnectDomainEventRegisterAny(conn, nullptr, d.id, d.cb, sink, freeSink);
    if (id < 0) {
      virResetLastError();
      freeSink(sink);
      continue;
    }
    st.domainCbs.push_back(id);
    got.arr.push_back(Val::string(d.name));
  }
  st.tsfn.Acquire();
  auto* nsink = new Sink{st.tsfn};
  int nid = virConnectNetworkEventRegisterAny(conn, nullptr, VIR_NETWORK_EVENT_ID_LIFECYCLE,
                                              VIR_NETWORK_EVENT_CALLBACK(onNetworkLifecycle), nsink, freeSink);
  if (nid < 0) {
    virResetLastError();
    freeSink(nsink);
  } else {
    st.networkCbs.push_back(nid);
    got.arr.push_back(Val::string("network-lifecycle"));
  }
  st.tsfn.Acquire();
  auto* csink = new Sink{st.tsfn};
  if (virConnectRegisterCloseCallback(conn, onClose, csink, freeSink) < 0) {
    virResetLastError();
    freeSink(csink);
  } else {
    st.closeCb = true;
    got.arr.push_back(Val::string("closed"));
  }
  return got;
}

// Worker thread: undo registerEvents, then drop the owner's reference.
void teardown(ConnState& st, virConnectPtr conn) {
  for (int id : st.domainCbs) virConnectDomainEventDeregisterAny(conn, id);
  for (int id : st.networkCbs) virConnectNetworkEventDeregisterAny(conn, id);
  if (st.closeCb) virConnectUnregisterCloseCallback(conn, onClose);
  st.domainCbs.clear();
  st.networkCbs.clear();
  st.closeCb = false;
  virResetLastError();
  virConnectClose(conn);
}

// ---------- the generic worker

// A libvirt job: runs `fn` on the pool with its own connection reference (if any) and settles
// the promise with its value or libvirt's error.
class Job : public Napi::AsyncWorker {
 public:
  using Fn = std::function<bool(virConnectPtr, Val&, LvError&)>;

  Job(Napi::Env env, virConnectPtr ref, Fn fn)
      : Napi::AsyncWorker(env, "hostnetd:libvirt"), deferred_(Napi::Promise::Deferred::New(env)),
        conn_(ref), fn_(std::move(fn)) {}

  Napi::Promise promise() { return deferred_.Promise(); }
  std::function<void(Napi::Env, const Val&)> onOk;  // JS thread, before resolve
  std::function<void(Napi::Env)> onFail;            // JS thread, before reject

 protected:
  void Execute() override {
    ok_ = fn_(conn_, result_, err_);
    if (conn_ != nullptr) virConnectClose(conn_);  // this call's reference
    conn_ = nullptr;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!ok_) {
      if (onFail) onFail(env);
      deferred_.Reject(toJsError(env, err_).Value());
      return;
    }
    if (onOk) onOk(env, result_);
    deferred_.Resolve(result_.toJs(env));
  }

  void OnError(const Napi::Error& e) override {
    if (onFail) onFail(Env());
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  virConnectPtr conn_;
  Fn fn_;
  Val result_;
  LvError err_;
  bool ok_ = false;
};

Napi::Value rejected(Napi::Env env, int code, const std::string& msg) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(toJsError(env, LvError{code, VIR_FROM_NONE, msg}).Value());
  return d.Promise();
}

StatePtr stateOf(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected a libvirt connection handle");
  return *v.As<Napi::External<StatePtr>>().Data();
}

std::string strArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string("expected a string for ") + what);
  return info[i].As<Napi::String>().Utf8Value();
}

// Queue a job on a connection; reject at once if it is closed.
Napi::Value queue(const Napi::CallbackInfo& info, Job::Fn fn) {
  StatePtr st = stateOf(info[0]);
  virConnectPtr ref = st->acquire();
  if (ref == nullptr) return rejected(info.Env(), VIR_ERR_INVALID_CONN, "libvirt connection is closed");
  auto* job = new Job(info.Env(), ref, std::move(fn));
  Napi::Promise p = job->promise();
  job->Queue();
  return p;
}

// ---------- object helpers (worker thread)

// Every object a virConnectListAll* call returns, handed to `each` in turn (it pushes what it keeps
// onto out.arr; false fails the call and skips the rest), each freed with `release`.
template <typename Ptr, typename Each>
bool listAll(virConnectPtr conn, int (*list)(virConnectPtr, Ptr**, unsigned int), unsigned int flags,
             int (*release)(Ptr), const char* failure, Val& out, LvError& err, Each each) {
  Ptr* items = nullptr;
  int n = list(conn, &items, flags);
  if (n < 0) {
    err = lastError(failure);
    return false;
  }
  out = Val::array();
  bool ok = true;
  for (int i = 0; i < n; i++) {
    if (ok) ok = each(items[i]);
    release(items[i]);
  }
  free(items);
  return ok;
}

Val networkInfo(virNetworkPtr net) {
  Val o = Val::object();
  o.set("name", Val::string(virNetworkGetName(net)));
  o.set("uuid", Val::string(networkUuid(net)));
  int active = virNetworkIsActive(net);
  int persistent = virNetworkIsPersistent(net);
  int autostart = 0;
  if (virNetworkGetAutostart(net, &autostart) < 0) autostart = 0;
  o.set("active", Val::boolean(active == 1));
  o.set("persistent", Val::boolean(persistent == 1));
  o.set("autostart", Val::boolean(autostart == 1));
  virResetLastError();
  return o;
}

Val domainInfo(virDomainPtr dom) {
  Val o = Val::object();
  o.set("name", Val::string(virDomainGetName(dom)));
  o.set("uuid", Val::string(domainUuid(dom)));
  unsigned int id = virDomainGetID(dom);
  o.set("id", id == static_cast<unsigned int>(-1) ? Val::number(-1) : Val::number(id));
  o.set("active", Val::boolean(virDomainIsActive(dom) == 1));
  virResetLastError();
  return o;
}

// Look a network up, run `act` on it, free it. `what` names the failing step for a fallback message.
bool withNetwork(virConnectPtr conn, const std::string& name, LvError& err,
                 const std::function<bool(virNetworkPtr)>& act, const char* what) {
  virNetworkPtr net = virNetworkLookupByName(conn, name.c_str());
  if (net == nullptr) {
    err = lastError("network lookup failed");
    return false;
  }
  bool ok = act(net);
  if (!ok) err = lastError(what);
  virNetworkFree(net);
  return ok;
}

bool withDomain(virConnectPtr conn, const std::string& key, bool byUuid, LvError& err,
                const std::function<bool(virDomainPtr)>& act, const char* what) {
  virDomainPtr dom = byUuid ? virDomainLookupByUUIDString(conn, key.c_str())
                            : virDomainLookupByName(conn, key.c_str());
  if (dom == nullptr) {
    err = lastError("domain lookup failed");
    return false;
  }
  bool ok = act(dom);
  if (!ok) err = lastError(what);
  virDomainFree(dom);
  return ok;
}

// ---------- exported functions

// open(uri: string, onEvent?: (ev) => void): { handle, ready: Promise<string[]> }
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string uri = strArg(info, 0, "uri");
  if (!eventLoopOk) return rejected(env, VIR_ERR_INTERNAL_ERROR, "libvirt event loop could not be registered");
  auto st = std::make_shared<ConnState>();
  if (info.Length() > 1 && info[1].IsFunction()) {
    st->tsfn = Tsfn::New(env, info[1].As<Napi::Function>(), "hostnetd:libvirt-events", 0, 1);
    // Events must never keep the process alive by themselves.
    st->tsfn.Unref(env);
    st->hasTsfn = true;
  }
  auto* job = new Job(env, nullptr, [st, uri](virConnectPtr, Val& out, LvError& err) {
    virConnectPtr conn = virConnectOpen(uri.c_str());
    if (conn == nullptr) {
      err = lastError("cannot open libvirt connection");
      return false;
    }
    // Remote drivers only: notice a dead libvirtd within ~15 s even when idle.
    if (virConnectSetKeepAlive(conn, 5, 3) < 0) virResetLastError();
    out = registerEvents(*st, conn);
    std::unique_lock<std::mutex> lock(st->mu);
    if (st->closed) {
      lock.unlock();
      teardown(*st, conn);
      err = LvError{VIR_ERR_INVALID_CONN, VIR_FROM_NONE, "libvirt connection closed while opening"};
      return false;
    }
    st->conn = conn;
    return true;
  });
  job->onFail = [st](Napi::Env) {
    if (st->hasTsfn) {
      st->hasTsfn = false;
      st->tsfn.Release();
    }
  };
  Napi::Promise p = job->promise();
  // The handle exists at once (so close() can be called any time); `ready` settles with the
  // event kinds registered, or libvirt's error.
  auto* holder = new StatePtr(st);
  Napi::External<StatePtr> ext = Napi::External<StatePtr>::New(env, holder, [](Napi::Env, StatePtr* h) {
    // Collected without close(): release in the background, never block the JS thread.
    StatePtr s = *h;
    delete h;
    virConnectPtr conn = nullptr;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      std::swap(conn, s->conn);
    }
    if (conn != nullptr) {
      std::thread([s, conn] {
        teardown(*s, conn);
        if (s->hasTsfn) s->tsfn.Release();
      }).detach();
    }
  });
  job->Queue();
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", ext);
  result.Set("ready", p);
  return result;
}

// close(handle): Promise<void>; idempotent
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StatePtr st = stateOf(info[0]);
  virConnectPtr conn = nullptr;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    st->closed = true;
    std::swap(conn, st->conn);
  }
  if (conn == nullptr) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  auto* job = new Job(env, nullptr, [st, conn](virConnectPtr, Val&, LvError&) {
    teardown(*st, conn);
    return true;
  });
  job->onOk = [st](Napi::Env, const Val&) {
    if (st->hasTsfn) {
      st->hasTsfn = false;
      st->tsfn.Release();
    }
  };
  Napi::Promise p = job->promise();
  job->Queue();
  return p;
}

Napi::Value IsAlive(const Napi::CallbackInfo& info) {
  return queue(info, [](virConnectPtr conn, Val& out, LvError& err) {
    int alive = virConnectIsAlive(conn);
    if (alive < 0) {
      err = lastError("cannot query connection");
      return false;
    }
    out = Val::boolean(alive == 1);
    return true;
  });
}

Napi::Value GetUri(const Napi::CallbackInfo& info) {
  return queue(info, [](virConnectPtr conn, Val& out, LvError& err) {
    char* uri = virConnectGetURI(conn);
    if (uri == nullptr) {
      err = lastError("cannot get connection URI");
      return false;
    }
    out = Val::string(uri);
    free(uri);
    return true;
  });
}

Napi::Value NetworkDefine(const Napi::CallbackInfo& info) {
  std::string xml = strArg(info, 1, "xml");
  return queue(info, [xml](virConnectPtr conn, Val& out, LvError& err) {
    virNetworkPtr net = virNetworkDefineXML(conn, xml.c_str());
    if (net == nullptr) {
      err = lastError("network define failed");
      return false;
    }
    out = networkInfo(net);
    virNetworkFree(net);
    return true;
  });
}

Napi::Value NetworkCreate(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val&, LvError& err) {
    return withNetwork(conn, name, err, [](virNetworkPtr n) { return virNetworkCreate(n) == 0; }, "network start failed");
  });
}

Napi::Value NetworkDestroy(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val&, LvError& err) {
    return withNetwork(conn, name, err, [](virNetworkPtr n) { return virNetworkDestroy(n) == 0; }, "network destroy failed");
  });
}

Napi::Value NetworkUndefine(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val&, LvError& err) {
    return withNetwork(conn, name, err, [](virNetworkPtr n) { return virNetworkUndefine(n) == 0; }, "network undefine failed");
  });
}

Napi::Value NetworkGetXml(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  unsigned int flags = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  return queue(info, [name, flags](virConnectPtr conn, Val& out, LvError& err) {
    return withNetwork(conn, name, err, [&out, flags](virNetworkPtr n) {
      char* xml = virNetworkGetXMLDesc(n, flags);
      if (xml == nullptr) return false;
      out = Val::string(xml);
      free(xml);
      return true;
    }, "network XML failed");
  });
}

Napi::Value NetworkLookup(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val& out, LvError& err) {
    return withNetwork(conn, name, err, [&out](virNetworkPtr n) { out = networkInfo(n); return true; }, "network lookup failed");
  });
}

Napi::Value NetworkIsActive(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val& out, LvError& err) {
    return withNetwork(conn, name, err, [&out](virNetworkPtr n) {
      int a = virNetworkIsActive(n);
      if (a < 0) return false;
      out = Val::boolean(a == 1);
      return true;
    }, "network isActive failed");
  });
}

Napi::Value NetworkSetAutostart(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  bool on = info.Length() > 2 && info[2].ToBoolean().Value();
  return queue(info, [name, on](virConnectPtr conn, Val&, LvError& err) {
    return withNetwork(conn, name, err, [on](virNetworkPtr n) { return virNetworkSetAutostart(n, on ? 1 : 0) == 0; },
                       "network autostart failed");
  });
}

Napi::Value NetworkGetAutostart(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val& out, LvError& err) {
    return withNetwork(conn, name, err, [&out](virNetworkPtr n) {
      int a = 0;
      if (virNetworkGetAutostart(n, &a) < 0) return false;
      out = Val::boolean(a == 1);
      return true;
    }, "network autostart query failed");
  });
}

Napi::Value NetworkList(const Napi::CallbackInfo& info) {
  return queue(info, [](virConnectPtr conn, Val& out, LvError& err) {
    return listAll(conn, virConnectListAllNetworks, 0, virNetworkFree, "network list failed", out, err, [&out](virNetworkPtr n) {
      out.arr.push_back(networkInfo(n));
      return true;
    });
  });
}

// networkListXml(handle, prefix, flags): [{ ...networkInfo, xml }] of the networks whose name
// starts with prefix, in one job (see DomainListActiveXml for why). A driver that refuses the
// flags (the test driver has no VIR_NETWORK_XML_INACTIVE) gives the live XML. A network
// undefined between the list and its read is left out.
Napi::Value NetworkListXml(const Napi::CallbackInfo& info) {
  std::string prefix = strArg(info, 1, "network name prefix");
  unsigned int flags = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  return queue(info, [prefix, flags](virConnectPtr conn, Val& out, LvError& err) {
    return listAll(conn, virConnectListAllNetworks, 0, virNetworkFree, "network list failed", out, err, [&](virNetworkPtr n) {
      const char* name = virNetworkGetName(n);
      if (name == nullptr || std::string(name).rfind(prefix, 0) != 0) return true;
      bool ok = true;
      char* xml = virNetworkGetXMLDesc(n, flags);
      if (xml == nullptr && flags != 0) {
        virErrorPtr e = virGetLastError();
        int code = e != nullptr ? e->code : 0;
        if (code == VIR_ERR_INVALID_ARG || code == VIR_ERR_NO_SUPPORT) xml = virNetworkGetXMLDesc(n, 0);
      }
      if (xml != nullptr) {
        Val o = networkInfo(n);
        o.set("xml", Val::string(xml));
        free(xml);
        out.arr.push_back(std::move(o));
      } else {
        virErrorPtr e = virGetLastError();
        if (e != nullptr && e->code != VIR_ERR_NO_NETWORK) {
          err = lastError("network XML failed");
          ok = false;
        }
      }
      virResetLastError();
      return ok;
    });
  });
}

// Every running domain's info, with its XML when withXml (flags for virDomainGetXMLDesc). A domain
// that stopped between the list and its XML read is left out.
bool listActiveDomains(virConnectPtr conn, Val& out, LvError& err, bool withXml, unsigned int flags) {
  return listAll(conn, virConnectListAllDomains, VIR_CONNECT_LIST_DOMAINS_ACTIVE, virDomainFree, "domain list failed", out, err,
                 [&out, withXml, flags](virDomainPtr d) {
    char* xml = withXml ? virDomainGetXMLDesc(d, flags) : nullptr;
    if (!withXml || xml != nullptr) {
      Val o = domainInfo(d);
      if (xml != nullptr) o.set("xml", Val::string(xml));
      out.arr.push_back(std::move(o));
    }
    free(xml);
    virResetLastError();
    return true;
  });
}

Napi::Value DomainListActive(const Napi::CallbackInfo& info) {
  return queue(info, [](virConnectPtr conn, Val& out, LvError& err) { return listActiveDomains(conn, out, err, false, 0); });
}

// domainListActiveXml(handle, flags): [{ ...domainInfo, xml }] of every running domain, in one
// job (one pool thread), instead of one domainGetXml job per domain all at once: the pool also
// serves the journal's fsyncs, and a hung libvirtd must hold at most one of its threads.
Napi::Value DomainListActiveXml(const Napi::CallbackInfo& info) {
  unsigned int flags = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  return queue(info, [flags](virConnectPtr conn, Val& out, LvError& err) { return listActiveDomains(conn, out, err, true, flags); });
}

// domainLookup(handle, key, byUuid)
Napi::Value DomainLookup(const Napi::CallbackInfo& info) {
  std::string key = strArg(info, 1, "domain name or uuid");
  bool byUuid = info.Length() > 2 && info[2].ToBoolean().Value();
  return queue(info, [key, byUuid](virConnectPtr conn, Val& out, LvError& err) {
    return withDomain(conn, key, byUuid, err, [&out](virDomainPtr d) { out = domainInfo(d); return true; },
                      "domain lookup failed");
  });
}

// domainGetXml(handle, key, byUuid, flags)
Napi::Value DomainGetXml(const Napi::CallbackInfo& info) {
  std::string key = strArg(info, 1, "domain name or uuid");
  bool byUuid = info.Length() > 2 && info[2].ToBoolean().Value();
  unsigned int flags = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
  return queue(info, [key, byUuid, flags](virConnectPtr conn, Val& out, LvError& err) {
    return withDomain(conn, key, byUuid, err, [&out, flags](virDomainPtr d) {
      char* xml = virDomainGetXMLDesc(d, flags);
      if (xml == nullptr) return false;
      out = Val::string(xml);
      free(xml);
      return true;
    }, "domain XML failed");
  });
}

// ---------- network filters (nwfilter driver)

Val nwfilterInfo(virNWFilterPtr f) {
  Val o = Val::object();
  o.set("name", Val::string(virNWFilterGetName(f)));
  char buf[VIR_UUID_STRING_BUFLEN];
  o.set("uuid", Val::string(virNWFilterGetUUIDString(f, buf) == 0 ? std::string(buf) : std::string()));
  virResetLastError();
  return o;
}

// nwfilterGetXml(handle, name): the filter's XML; rejects with VIR_ERR_NO_NWFILTER when there is none
Napi::Value NwfilterGetXml(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val& out, LvError& err) {
    virNWFilterPtr f = virNWFilterLookupByName(conn, name.c_str());
    if (f == nullptr) {
      err = lastError("nwfilter lookup failed");
      return false;
    }
    char* xml = virNWFilterGetXMLDesc(f, 0);
    bool ok = xml != nullptr;
    if (ok) out = Val::string(xml);
    else err = lastError("nwfilter XML failed");
    free(xml);
    virNWFilterFree(f);
    return ok;
  });
}

// nwfilterDefine(handle, xml): {name, uuid}; a filter of that name is replaced when the XML carries its UUID
Napi::Value NwfilterDefine(const Napi::CallbackInfo& info) {
  std::string xml = strArg(info, 1, "xml");
  return queue(info, [xml](virConnectPtr conn, Val& out, LvError& err) {
    virNWFilterPtr f = virNWFilterDefineXML(conn, xml.c_str());
    if (f == nullptr) {
      err = lastError("nwfilter define failed");
      return false;
    }
    out = nwfilterInfo(f);
    virNWFilterFree(f);
    return true;
  });
}

Napi::Value NwfilterUndefine(const Napi::CallbackInfo& info) {
  std::string name = strArg(info, 1, "name");
  return queue(info, [name](virConnectPtr conn, Val&, LvError& err) {
    virNWFilterPtr f = virNWFilterLookupByName(conn, name.c_str());
    if (f == nullptr) {
      err = lastError("nwfilter lookup failed");
      return false;
    }
    bool ok = virNWFilterUndefine(f) == 0;
    if (!ok) err = lastError("nwfilter undefine failed");
    virNWFilterFree(f);
    return ok;
  });
}

// nwfilterList(handle): [{name, uuid}] of every filter, libvirt's built-in ones included
Napi::Value NwfilterList(const Napi::CallbackInfo& info) {
  return queue(info, [](virConnectPtr conn, Val& out, LvError& err) {
    return listAll(conn, virConnectListAllNWFilters, 0, virNWFilterFree, "nwfilter list failed", out, err, [&out](virNWFilterPtr f) {
      out.arr.push_back(nwfilterInfo(f));
      return true;
    });
  });
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  unsigned long lib = 0;
  virGetVersion(&lib, nullptr, nullptr);
  return Napi::Number::New(info.Env(), static_cast<double>(lib));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  startEventLoop();
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("isAlive", Napi::Function::New(env, IsAlive));
  exports.Set("getUri", Napi::Function::New(env, GetUri));
  exports.Set("networkDefine", Napi::Function::New(env, NetworkDefine));
  exports.Set("networkCreate", Napi::Function::New(env, NetworkCreate));
  exports.Set("networkDestroy", Napi::Function::New(env, NetworkDestroy));
  exports.Set("networkUndefine", Napi::Function::New(env, NetworkUndefine));
  exports.Set("networkGetXml", Napi::Function::New(env, NetworkGetXml));
  exports.Set("networkLookup", Napi::Function::New(env, NetworkLookup));
  exports.Set("networkIsActive", Napi::Function::New(env, NetworkIsActive));
  exports.Set("networkSetAutostart", Napi::Function::New(env, NetworkSetAutostart));
  exports.Set("networkGetAutostart", Napi::Function::New(env, NetworkGetAutostart));
  exports.Set("networkList", Napi::Function::New(env, NetworkList));
  exports.Set("networkListXml", Napi::Function::New(env, NetworkListXml));
  exports.Set("domainListActive", Napi::Function::New(env, DomainListActive));
  exports.Set("domainListActiveXml", Napi::Function::New(env, DomainListActiveXml));
  exports.Set("domainLookup", Napi::Function::New(env, DomainLookup));
  exports.Set("domainGetXml", Napi::Function::New(env, DomainGetXml));
  exports.Set("nwfilterGetXml", Napi::Function::New(env, NwfilterGetXml));
  exports.Set("nwfilterDefine", Napi::Function::New(env, NwfilterDefine));
  exports.Set("nwfilterUndefine", Napi::Function::New(env, NwfilterUndefine));
  exports.Set("nwfilterList", Napi::Function::New(env, NwfilterList));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("eventLoop", Napi::Boolean::New(env, eventLoopOk.load()));
  return exports;
}

}  // namespace

NODE_API_MODULE(hostnet_libvirt, Init)
