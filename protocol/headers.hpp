// NATS message header blocks, the part of an HPUB/HMSG payload before the body:
//
//   NATS/1.0[ <status>[ <description>]]\r\n
//   (<Key>: <Value>\r\n)*
//   \r\n
//
// headers_view reads one without allocating (views into the block); keys keep
// their case and repeated keys are all kept, in order. headers_builder writes one.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace courier::protocol {

/// The version line every header block starts with.
inline constexpr std::string_view headers_version = "NATS/1.0";

/// The block nats-server sends (as an HMSG with no body) when a request has no
/// responders: status 503, no description, no fields. 16 bytes.
inline constexpr std::string_view no_responders_headers = "NATS/1.0 503\r\n\r\n";
static_assert(no_responders_headers.size() == 16);

/// Well-known status codes carried in the version line.
namespace header_status {
inline constexpr int no_responders = 503;    ///< request had no subscribers
inline constexpr int request_timeout = 408;  ///< JetStream pull request expired
inline constexpr int not_found = 404;        ///< JetStream: no messages
inline constexpr int control = 100;          ///< idle heartbeat / flow control
}  // namespace header_status

/// One "Key: Value" line. name keeps its case; value has surrounding
/// spaces/tabs trimmed.
struct header_field {
  std::string_view name;
  std::string_view value;
};

/// A validated, zero-copy view of a header block. The block must outlive it.
class headers_view {
 public:
  /// Parses `block` (the whole block, including its final blank line). Returns
  /// nullopt when it is not a well-formed block: wrong version, a status that
  /// is not 3 digits or is below 100, a line without ':' or with an empty or
  /// space-holding name, a bare \r or \n, a missing final blank line, or bytes
  /// after it.
  static std::optional<headers_view> parse(std::string_view block) noexcept;

  /// The status code from the version line, or 0 when there is none.
  int status() const noexcept { return status_; }
  /// The text after the status code (trimmed), possibly empty.
  std::string_view description() const noexcept { return description_; }
  /// The block as given to parse().
  std::string_view block() const noexcept { return block_; }
  /// Number of fields (repeated keys counted each time).
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

  /// First value whose name equals `name` exactly (case-sensitive, like
  /// nats-server's own header lookups), or nullopt.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  /// First value whose name equals `name` ignoring ASCII case, or nullopt.
  std::optional<std::string_view> get_ignore_case(std::string_view name) const noexcept;
  /// All values of `name` (exact case), in order.
  std::vector<std::string_view> get_all(std::string_view name) const;

  /// Forward iterator over the fields, in order.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = header_field;
    using difference_type = std::ptrdiff_t;
    using pointer = const header_field*;
    using reference = const header_field&;

    iterator() = default;
    const header_field& operator*() const noexcept { return field_; }
    const header_field* operator->() const noexcept { return &field_; }
    iterator& operator++() noexcept {
      load();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator copy = *this;
      load();
      return copy;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.at_end_ == b.at_end_ && (a.at_end_ || a.rest_.data() == b.rest_.data());
    }

   private:
    friend class headers_view;
    explicit iterator(std::string_view fields) noexcept : rest_(fields), at_end_(false) { load(); }
    void load() noexcept;
    std::string_view rest_;  ///< field lines not yet read, ending with the blank line
    header_field field_;
    bool at_end_ = true;
  };
  iterator begin() const noexcept { return iterator(fields_); }
  iterator end() const noexcept { return iterator(); }

 private:
  std::string_view block_;
  std::string_view description_;
  std::string_view fields_;  ///< from the first field line to the end of the block
  std::size_t count_ = 0;
  int status_ = 0;
};

/// Writes a header block into a string. Names and values must not hold CR or
/// LF, names no ':' or whitespace; add() returns false (and writes nothing)
/// when they do.
class headers_builder {
 public:
  /// Starts a block with no status.
  headers_builder();
  /// Starts a block with a 3-digit status (100..999) and optional description.
  explicit headers_builder(int status, std::string_view description = {});

  /// Appends "name: value\r\n". Returns false for an invalid name or value.
  bool add(std::string_view name, std::string_view value);
  /// The finished block (adds the final blank line). The builder is left empty.
  std::string finish();
  /// Appends the finished block to `out` without an intermediate string.
  void finish_into(std::string& out);

 private:
  std::string block_;
};

}  // namespace courier::protocol
