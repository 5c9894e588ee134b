// SPDX-License-Identifier: Apache-2.0
#include "tests/http_get.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <exception>
#include <sstream>

namespace chatpro::testing {

HttpReply HttpGet(int port, const std::string& path_and_query) {
  HttpReply reply;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path_and_query,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    reply.status = static_cast<int>(response.getStatus());
    std::ostringstream body;
    Poco::StreamCopier::copyStream(in, body);
    reply.body = body.str();
  } catch (const std::exception& e) {
    reply.error = e.what();
  }
  return reply;
}

}  // namespace chatpro::testing
