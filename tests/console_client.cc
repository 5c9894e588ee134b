// SPDX-License-Identifier: Apache-2.0
#include "tests/console_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>

namespace chatpro::testing {
namespace {

// The string value of "key" in a flat JSON text ("" if absent).
std::string JsonString(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  at += key.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

}  // namespace

HttpsReply ConsoleClient::SignIn(const std::string& login, const std::string& password) {
  HttpsReply r = Call("POST", "/session",
                      "{\"login\":\"" + login + "\",\"password\":\"" + password + "\"}");
  if (r.status == 200) csrf_ = JsonString(r.body, "csrf_token");
  return r;
}

HttpsReply ConsoleClient::Get(const std::string& path) { return Call("GET", path, ""); }

HttpsReply ConsoleClient::Post(const std::string& path, const std::string& body) {
  return Call("POST", path, body);
}

HttpsReply ConsoleClient::Call(const std::string& method, const std::string& path,
                               const std::string& body) {
  HttpsReply out;
  try {
    Poco::Net::Context::Ptr trust = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", cert_file_, Poco::Net::Context::VERIFY_STRICT,
        9, false);
    Poco::Net::HTTPSClientSession session("localhost", static_cast<Poco::UInt16>(port_), trust);
    // A retention run answers when it is over.
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(method, "/api/v1" + path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!cookie_.empty()) request.set("Cookie", cookie_);
    if (method != "GET" && !csrf_.empty()) request.set("X-CSRF-Token", csrf_);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), out.body);
    out.status = response.getStatus();
    std::string cookie = response.get("Set-Cookie", "");
    if (!cookie.empty()) cookie_ = cookie.substr(0, cookie.find(';'));
  } catch (const Poco::Exception& e) {
    out.status = 0;
    out.error = e.displayText();
  }
  return out;
}

}  // namespace chatpro::testing
