// SPDX-License-Identifier: Apache-2.0
//
// Status: the outcome of an operation that can fail, as a value.
//
// A Status is either OK or carries a canonical code and a message meant for a
// person ("conversation 12 not found"). The codes are a short, closed set; each
// maps one to one to chatpro.wire.ErrorCode and to the `code` label of the
// chatpro_errors_total metric. Guidance on retrying is in StatusCode below.
//
// Thread-safety: a Status is an immutable value; copies may be used from any
// thread.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace chatpro {

enum class StatusCode : std::uint16_t {
  kOk = 0,
  kInvalidArgument = 1,     // malformed input or a broken limit; do not retry unchanged
  kNotFound = 2,            // the named thing does not exist
  kAlreadyExists = 3,       // the thing to create exists already
  kPermissionDenied = 4,    // the caller is not allowed to do this
  kResourceExhausted = 5,   // a size, rate or space limit; retry later or smaller
  kFailedPrecondition = 6,  // the system is not in the state the call needs
  kUnavailable = 7,         // transient; retry with backoff
  kDataLoss = 8,            // stored data is damaged
  kIoError = 9,             // reading or writing storage failed
  kInternal = 10,           // a bug
};

// The lower-case name used in logs, metrics labels and the CLI, e.g. "not_found".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not_found: conversation 12 not found", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

}  // namespace chatpro

// Returns from the enclosing function if `expr` yields a non-OK Status.
#define CHATPRO_RETURN_IF_ERROR(expr)              \
  do {                                             \
    ::chatpro::Status chatpro_status_ = (expr);    \
    if (!chatpro_status_.ok()) return chatpro_status_; \
  } while (0)
