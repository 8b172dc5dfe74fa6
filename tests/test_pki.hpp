// A throw-away certificate authority for tests, made with the openssl CLI
// at test time (tests/clients for client TLS, tests/leaf for leafnode TLS).
// No key material is committed: every key is generated into a temporary
// directory that is removed when the test ends.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace courier::test {

/// A temporary directory, removed (one level deep) on destruction.
class scratch_dir {
 public:
  scratch_dir() {
    char dir_template[] = "/tmp/courier_sec_XXXXXX";
    if (char* dir = ::mkdtemp(dir_template)) path_ = dir;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    if (path_.empty()) return;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* entry = ::readdir(d)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// Writes text to name and returns its full path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name)) << text;
    return file(name);
  }

 private:
  std::string path_;
};

/// Runs a shell command, its output appended to log; true on exit status 0.
inline bool run_command(const std::string& command, const std::string& log) {
  const std::string full = command + " >>" + log + " 2>&1";
  return std::system(full.c_str()) == 0;
}

/// A certificate authority and certificates signed by it, generated with
/// the openssl CLI (P-256 keys: fast to make). Files are PEM.
///
///   ca.pem                         the CA certificate (trust anchor)
///   server.pem / server.key        SAN DNS:localhost, IP:127.0.0.1
///   <name>.pem / <name>.key        client certificates from add_client()
class test_pki {
 public:
  test_pki() {
    config_ = dir_.write("openssl.cnf",
                         "[req]\ndistinguished_name = dn\n[dn]\n"
                         "[ca]\nbasicConstraints = critical,CA:TRUE\n"
                         "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n");
    ok_ = !dir_.path().empty() && make_key("ca") &&
          run_command("openssl req -x509 -new -key " + dir_.file("ca.key") + " -subj '/O=Courier Tests/CN=Test CA'" +
                          " -days 2 -config " + config_ + " -extensions ca -out " + dir_.file("ca.pem"),
                      log()) &&
          sign("server", "/O=Courier Tests/CN=localhost",
               "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
               "subjectAltName = DNS:localhost,IP:127.0.0.1\n");
  }

  /// Adds a client certificate <name>.pem/.key with the given subject (in
  /// openssl's "/O=x/CN=y" form) and optional subjectAltName value
  /// ("email:a@b.c"). Returns false (see log_text()) on failure.
  bool add_client(const std::string& name, const std::string& subject, const std::string& san = {}) {
    std::string ext = "keyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n";
    if (!san.empty()) ext += "subjectAltName = " + san + "\n";
    return ok_ && sign(name, subject, ext);
  }

  /// Adds a server certificate <name>.pem/.key for the names in `san`
  /// ("DNS:elsewhere.test"), signed by the CA: one a client must refuse
  /// when it connects by another name. Returns false on failure.
  bool add_server(const std::string& name, const std::string& san) {
    return ok_ && sign(name, "/O=Courier Tests/CN=" + name,
                       "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                       "subjectAltName = " + san + "\n");
  }

  /// Another, unrelated CA with a client certificate "<name>" signed by it:
  /// a certificate the server must not trust.
  bool add_foreign_client(const std::string& name, const std::string& subject) {
    const std::string ca = name + "_ca";
    return ok_ && make_key(ca) &&
           run_command("openssl req -x509 -new -key " + dir_.file(ca + ".key") + " -subj '/CN=Foreign CA' -days 2" +
                           " -config " + config_ + " -extensions ca -out " + dir_.file(ca + ".pem"),
                       log()) &&
           sign(name, subject, "extendedKeyUsage = clientAuth\n", ca);
  }

  bool ok() const { return ok_; }
  std::string ca() const { return dir_.file("ca.pem"); }
  std::string cert(const std::string& name) const { return dir_.file(name + ".pem"); }
  std::string key(const std::string& name) const { return dir_.file(name + ".key"); }
  std::string log_text() const {
    std::ifstream in(log());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  /// `cert_file: ..., key_file: ..., ca_file: ...` for a tls block.
  std::string server_files() const {
    return "cert_file: \"" + cert("server") + "\", key_file: \"" + key("server") + "\", ca_file: \"" + ca() + "\"";
  }

 private:
  std::string log() const { return dir_.file("openssl.log"); }

  bool make_key(const std::string& name) {
    return run_command("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + dir_.file(name + ".key"),
                       log());
  }

  bool sign(const std::string& name, const std::string& subject, const std::string& extensions,
            const std::string& issuer = "ca") {
    const std::string ext_file = dir_.write(name + ".ext", "[v3]\nbasicConstraints = CA:FALSE\n" + extensions);
    return make_key(name) &&
           run_command("openssl req -new -key " + dir_.file(name + ".key") + " -subj '" + subject + "' -config " +
                           config_ + " -out " + dir_.file(name + ".csr"),
                       log()) &&
           run_command("openssl x509 -req -in " + dir_.file(name + ".csr") + " -CA " + dir_.file(issuer + ".pem") +
                           " -CAkey " + dir_.file(issuer + ".key") + " -set_serial " + std::to_string(++serial_) +
                           " -days 2 -extfile " + ext_file + " -extensions v3 -out " + dir_.file(name + ".pem"),
                       log());
  }

  scratch_dir dir_;
  std::string config_;
  bool ok_ = false;
  int serial_ = 1000;
};

}  // namespace courier::test
