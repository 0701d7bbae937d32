// Small kernel files (the IPv6 sysctls under /proc/sys) written on a libuv pool thread.
//
// A big change writes two sysctls for each device it creates: 2000 open/write/close at 1000
// networks, ~35 ms through fs.writeFileSync on the JS thread, where they also wait behind the
// change's verification. Here a list of groups is written off the JS thread (JS splits a long
// list into shards that run on pool threads in parallel): each group in order, stopping at its
// first failure, so a device whose accept_ra cannot be written keeps its autoconf.
//
//   writeFiles([[path, text], ...][], cb(err, failures)): failures are
//   [group, file, errno, syscall, strerror] for each group that stopped, in group order.

#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

namespace {

struct Failure {
  uint32_t group;
  uint32_t file;
  int err;
  const char* syscall;
};

using Group = std::vector<std::pair<std::string, std::string>>;

class FileWriteWorker : public Napi::AsyncWorker {
 public:
  FileWriteWorker(const Napi::Function& cb, std::vector<Group> groups) : Napi::AsyncWorker(cb), groups_(std::move(groups)) {}

  void Execute() override {
    for (uint32_t g = 0; g < groups_.size(); g++) {
      const Group& files = groups_[g];
      for (uint32_t f = 0; f < files.size(); f++) {
        const char* syscall = nullptr;
        int err = writeOne(files[f].first, files[f].second, &syscall);
        if (err != 0) {
          failures_.push_back({g, f, err, syscall});
          break;
        }
      }
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, failures_.size());
    for (uint32_t i = 0; i < failures_.size(); i++) {
      const Failure& x = failures_[i];
      Napi::Array row = Napi::Array::New(env, 5);
      row.Set(0u, Napi::Number::New(env, x.group));
      row.Set(1u, Napi::Number::New(env, x.file));
      row.Set(2u, Napi::Number::New(env, x.err));
      row.Set(3u, Napi::String::New(env, x.syscall));
      row.Set(4u, Napi::String::New(env, strerror(x.err)));
      out.Set(i, row);
    }
    Callback().Call({env.Null(), out});
  }

 private:
  // 0, or the errno of the call that failed (named in *syscall)
  static int writeOne(const std::string& path, const std::string& text, const char** syscall) {
    int fd;
    do fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      *syscall = "open";
      return errno;
    }
    int err = 0;
    ssize_t n;
    do n = write(fd, text.data(), text.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) err = errno;
    else if (static_cast<size_t>(n) != text.size()) err = EIO;  // a sysctl takes its value in one write
    if (err != 0) *syscall = "write";
    // a proc file's value is taken by write(); close reports nothing of it
    close(fd);
    return err;
  }

  std::vector<Group> groups_;
  std::vector<Failure> failures_;
};

Napi::Value WriteFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto refuse = [&env](const char* what) {
    Napi::TypeError::New(env, std::string("writeFiles(groups, cb): ") + what).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsFunction()) return refuse("an array of groups and a callback");
  Napi::Array in = info[0].As<Napi::Array>();
  std::vector<Group> groups(in.Length());
  for (uint32_t g = 0; g < in.Length(); g++) {
    Napi::Value gv = in.Get(g);
    if (!gv.IsArray()) return refuse("each group is an array of [path, text]");
    Napi::Array files = gv.As<Napi::Array>();
    for (uint32_t f = 0; f < files.Length(); f++) {
      Napi::Value fv = files.Get(f);
      if (!fv.IsArray()) return refuse("each file is [path, text]");
      Napi::Value p = fv.As<Napi::Array>().Get(0u), t = fv.As<Napi::Array>().Get(1u);
      if (!p.IsString() || !t.IsString()) return refuse("a path and a text are strings");
      groups[g].emplace_back(p.As<Napi::String>().Utf8Value(), t.As<Napi::String>().Utf8Value());
    }
  }
  (new FileWriteWorker(info[1].As<Napi::Function>(), std::move(groups)))->Queue();
  return env.Undefined();
}

}  // namespace

void InitFileWriter(Napi::Env env, Napi::Object exports) {
  exports.Set("writeFiles", Napi::Function::New(env, WriteFiles, "writeFiles"));
}
