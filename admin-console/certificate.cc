// SPDX-License-Identifier: Apache-2.0
#include "admin-console/certificate.h"

// Poco's headers bring in windows.h on Windows, whose wincrypt.h defines
// X509_NAME and friends: before OpenSSL's, which undefine them again.
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#if defined(_WIN32)
#include <io.h>
#else
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <cstdio>
#include <filesystem>
#include <memory>

#include "broker/base/file_io.h"

namespace chatpro::console {
namespace {

namespace fs = std::filesystem;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

constexpr long kValidDays = 825;  // the most browsers accept for a TLS server certificate

Status OpenSslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::Internal(what + ": " + buf);
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError("cannot add a certificate extension");
  }
  return Status::Ok();
}

// Writes `pem` with `mode` (POSIX; on Windows the folder's ACL applies)
// through a synced temporary file renamed into place, so a crash never leaves
// half a key.
template <typename WriteFn>
Status WritePem(const std::string& path, int mode, WriteFn write) {
  std::string tmp = path + ".tmp";
  std::remove(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | base::kOpenFlags, mode);
  if (fd < 0) return Status::IoError("cannot create " + tmp);
  FILE* f = ::fdopen(fd, "wb");
  if (f == nullptr) {
    ::close(fd);
    std::remove(tmp.c_str());
    return Status::IoError("cannot open " + tmp);
  }
  bool ok = write(f) == 1;
  ok = (std::fflush(f) == 0) && ok;
  ok = (base::SyncFile(::fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || base::MoveReplacing(tmp, path) != 0) {
    std::remove(tmp.c_str());
    return Status::IoError("cannot write " + path);
  }
  return Status::Ok();
}

Status MakeCertificate(const std::string& cert_file, const std::string& key_file,
                       const std::string& host_name) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("cannot make an EC P-256 key");
  Owned<X509> cert(X509_new());
  if (cert == nullptr) return OpenSslError("cannot make a certificate");
  X509_set_version(cert.get(), 2);  // v3, for the extensions
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return OpenSslError("no random serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // a client clock slightly behind
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValidDays * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = "ChatPro console " + host_name;
  if (cn.size() > 64) cn.resize(64);  // the longest common name X.509 allows
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("ChatPro"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (!host_name.empty() && host_name != "localhost") san = "DNS:" + host_name + "," + san;
  CHATPRO_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, san));
  CHATPRO_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  CHATPRO_RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  CHATPRO_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  CHATPRO_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslError("cannot sign the certificate");
  }
  // The key first: a certificate without its key would be reused and fail.
  CHATPRO_RETURN_IF_ERROR(WritePem(key_file, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  return WritePem(cert_file, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
}

}  // namespace

std::string MachineHostName() {
  try {
    std::string name = Poco::Environment::nodeName();
    if (!name.empty()) return name;
  } catch (const Poco::Exception&) {
    // Fall back below.
  }
  return "localhost";
}

Result<std::string> CertificateFingerprint(const std::string& cert_file) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return Status::IoError("cannot read " + cert_file);
  Owned<X509> cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (cert == nullptr) {
    ERR_clear_error();
    return Status::InvalidArgument(cert_file + " holds no PEM certificate");
  }
  return Fingerprint(cert.get());
}

Result<CertificateFiles> EnsureSelfSignedCertificate(const std::string& dir,
                                                     const std::string& host_name) {
  CertificateFiles out;
  out.cert_file = dir + "/cert.pem";
  out.key_file = dir + "/key.pem";
  std::error_code ec;
  if (!fs::exists(out.cert_file, ec) || !fs::exists(out.key_file, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
#if !defined(_WIN32)
    ::chmod(dir.c_str(), 0700);
#endif
    CHATPRO_RETURN_IF_ERROR(MakeCertificate(out.cert_file, out.key_file, host_name));
    out.created = true;
  }
  CHATPRO_ASSIGN_OR_RETURN(out.sha256, CertificateFingerprint(out.cert_file));
  return out;
}

}  // namespace chatpro::console
