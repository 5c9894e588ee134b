// SPDX-License-Identifier: Apache-2.0
//
// The console's TLS certificate when none is configured: a self-signed one
// made at the first start (OpenSSL 3: an EC P-256 key, subject alternative
// names for the machine's host name, localhost, 127.0.0.1 and ::1, valid 825
// days) in a folder, reused at later starts.
//
// Thread-safety: free functions; two calls on the same folder at once are not
// supported (the broker's store lock keeps a second broker away).
#pragma once

#include <string>

#include "broker/base/result.h"

namespace chatpro::console {

struct CertificateFiles {
  std::string cert_file;    // PEM certificate
  std::string key_file;     // PEM private key, mode 0600
  std::string sha256;       // fingerprint of the certificate, "AB:CD:..." as browsers show it
  bool created = false;     // made by this call
};

// Returns `dir`/cert.pem and `dir`/key.pem, made first (with `dir`, mode
// 0700) if they are not both there. On failure returns IoError (the folder or
// files cannot be written) or Internal (OpenSSL failed), with OpenSSL's reason.
Result<CertificateFiles> EnsureSelfSignedCertificate(const std::string& dir,
                                                     const std::string& host_name);

// The SHA-256 fingerprint of the first certificate in a PEM file. On failure
// returns IoError or InvalidArgument (not a PEM certificate).
Result<std::string> CertificateFingerprint(const std::string& cert_file);

// The machine's host name ("localhost" if it has none).
std::string MachineHostName();

}  // namespace chatpro::console
