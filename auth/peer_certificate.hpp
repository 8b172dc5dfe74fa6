// What authentication needs to know about a client's TLS certificate, taken
// from it once after the handshake (tls_config.hpp describe_peer_certificate).
// Plain data so that authenticate() never sees the connection.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace courier::auth {

/// The identities verify_and_map can map to a user, in nats-server's order
/// of preference (auth.go checkClientTLSCertSubject).
struct peer_certificate {
  std::vector<std::string> emails;     ///< rfc822Name SANs
  std::vector<std::string> dns_names;  ///< dNSName SANs
  std::vector<std::string> uris;       ///< uniformResourceIdentifier SANs
  /// The subject as Go's pkix.Name.String() prints it (RFC 2253 order, last
  /// RDN first; CN, O, OU, C, L, ST, STREET, POSTALCODE, SERIALNUMBER by
  /// name, other attributes as OID=#hex-of-DER).
  std::string subject;
  /// `subject` followed by ",DC=..." for each domainComponent, as nats-server
  /// also tries. Empty when the subject has no DC attribute.
  std::string subject_with_dcs;
  /// The subject's attributes as (type, value), type in upper case by
  /// short name (CN, O, DC, EMAILADDRESS, ...) or dotted OID; for matching a
  /// configured DN in any order.
  std::vector<std::pair<std::string, std::string>> subject_attributes;
};

}  // namespace courier::auth
