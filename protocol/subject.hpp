// NATS subject rules, exactly as nats-server 2.9.10 applies them
// (server/sublist.go), plus token iteration and a brute-force matcher.
//
// A subject is a sequence of tokens separated by '.'. A token equal to "*"
// matches any one token; a token equal to ">" matches one or more trailing
// tokens and must be last. '*' or '>' inside a longer token ("foo*") is an
// ordinary character. Which check applies where:
//
// | where                             | check                          | on failure (nats-server)            |
// |-----------------------------------|--------------------------------|-------------------------------------|
// | SUB subject                       | is_valid_subscribe_subject     | -ERR 'Invalid Subject', stays open  |
// | PUB/HPUB subject, pedantic only   | is_valid_literal_subject       | -ERR 'Invalid Publish Subject', the |
// |                                   |                                | message is still routed             |
// | config, imports/exports, perms    | is_valid_subject               | config error                        |
// | "literal publish" (no wildcards)  | is_valid_publish_subject       |                                     |
//
// The SUB check does not reject whitespace (nats-server's Sublist.Insert only
// checks token structure; "SUB a\fb 1" is accepted), while is_valid_subject
// rejects tokens holding ' ', '\t', '\n', '\r' or '\f'.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string_view>

#include "protocol/short_bytes.hpp"

namespace courier::protocol {

/// nats-server IsValidSubject: non-empty, no empty token, no whitespace
/// (space, \t, \n, \r, \f) in any token, and ">" only as the last token.
bool is_valid_subject(std::string_view subject) noexcept;

namespace detail {
/// The byte-by-byte is_valid_literal_subject, for subjects holding a '*' or
/// '>' byte (which may still be valid: "a*" is a literal token).
bool is_valid_literal_subject_by_bytes(std::string_view subject) noexcept;

/// 0x80 in each byte of `word` equal to `c`, 0 elsewhere: exact, no borrow
/// from one byte into the next.
constexpr std::uint64_t bytes_equal(std::uint64_t word, char c) noexcept {
  constexpr std::uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
  const std::uint64_t x = word ^ (0x0101010101010101ull * static_cast<unsigned char>(c));
  return ~(((x & low7) + low7) | x | low7);
}

/// The `n` bytes at `p` (1..8) as a little-endian word, zeros above them;
/// reads no byte outside [p, p + n) unless `may_read_before` (then the 8
/// bytes ending at p + n are readable).
inline std::uint64_t load_up_to_8(const char* p, std::size_t n, bool may_read_before) noexcept {
  if (n >= 8) return load_word<std::uint64_t>(p);
  if (may_read_before) return load_word<std::uint64_t>(p + n - 8) >> (8 * (8 - n));
  if (n >= 4) {
    return load_word<std::uint32_t>(p) | (std::uint64_t{load_word<std::uint32_t>(p + n - 4)} << (8 * (n - 4)));
  }
  if (n >= 2) {
    return load_word<std::uint16_t>(p) | (std::uint64_t{load_word<std::uint16_t>(p + n - 2)} << (8 * (n - 2)));
  }
  return static_cast<unsigned char>(p[0]);
}
}  // namespace detail

/// nats-server IsValidLiteralSubject (the pedantic PUB check): no empty token and
/// no "*" or ">" token. Whitespace is not checked. Inline and eight bytes at a
/// time: every in-process publish checks its subject.
inline bool is_valid_literal_subject(std::string_view subject) noexcept {
  const std::size_t size = subject.size();
  if (size == 0) return false;
  const char* const data = subject.data();
  if (data[0] == '.' || data[size - 1] == '.') return false;
  if constexpr (std::endian::native != std::endian::little) {
    return detail::is_valid_literal_subject_by_bytes(subject);
  } else {
    std::uint64_t dot_before = 0;  // 0x80 when the previous word ended with '.'
    for (std::size_t at = 0; at < size; at += 8) {
      const std::uint64_t word = detail::load_up_to_8(data + at, size - at, at > 0);
      if ((detail::bytes_equal(word, '*') | detail::bytes_equal(word, '>')) != 0) {
        return detail::is_valid_literal_subject_by_bytes(subject);
      }
      const std::uint64_t dots = detail::bytes_equal(word, '.');
      if ((dots & ((dots << 8) | dot_before)) != 0) return false;  // ".." : an empty token
      dot_before = dots >> 56;
    }
    return true;
  }
}

/// nats-server IsValidPublishSubject: is_valid_subject and subject_is_literal.
bool is_valid_publish_subject(std::string_view subject) noexcept;

/// The check nats-server's Sublist.Insert makes on a SUB subject: no empty
/// token, nothing after a ">" token. Empty subject is invalid (one empty token).
bool is_valid_subscribe_subject(std::string_view subject) noexcept;

/// nats-server subjectIsLiteral: true unless some token is exactly "*" or ">".
/// Does not check validity.
bool subject_is_literal(std::string_view subject) noexcept;

/// Brute-force match of a subscription pattern against a literal (published)
/// subject, token by token: "*" matches one token, ">" one or more trailing
/// tokens, anything else must be equal. Empty tokens compare as empty strings
/// (an invalid literal like "a..b" matches only a pattern that has the same
/// empty token or a wildcard there). For tests and small cases, not routing.
bool subject_matches(std::string_view pattern, std::string_view literal) noexcept;

/// nats-server subjectIsSubsetMatch: true if pattern `test` (may hold
/// wildcards) covers every subject that `subject` (may hold wildcards)
/// covers. A `*` in `subject` is covered only by `*` or `>` in `test`, a `>`
/// in `subject` only by `>`; an empty token on either side covers nothing.
bool subject_is_subset_match(std::string_view subject, std::string_view test) noexcept;

/// Number of tokens ("" has one empty token, as in nats-server's split).
std::size_t token_count(std::string_view subject) noexcept;

/// Forward range over the tokens of a subject, split on '.', no allocation.
/// `for (std::string_view token : subject_tokens("a.b.c"))` yields a, b, c;
/// "a..b" yields a, "", b; "" yields one empty token.
class subject_tokens {
 public:
  /// Iterates tokens; each is a view into the subject. Finds each '.' with
  /// memchr: the router splits every uncached subject through it.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string_view*;
    using reference = std::string_view;

    iterator() = default;
    std::string_view operator*() const noexcept {
      return std::string_view(token_begin_, static_cast<std::size_t>(token_end_ - token_begin_));
    }
    iterator& operator++() noexcept {
      if (token_end_ == subject_end_) {
        done_ = true;
      } else {
        token_begin_ = token_end_ + 1;
        token_end_ = find_dot(token_begin_, subject_end_);
      }
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator copy = *this;
      ++*this;
      return copy;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.done_ == b.done_ && (a.done_ || a.token_begin_ == b.token_begin_);
    }

   private:
    friend class subject_tokens;
    explicit iterator(std::string_view subject) noexcept
        : token_begin_(subject.data()),
          subject_end_(subject.data() + subject.size()),
          done_(false) {
      token_end_ = find_dot(token_begin_, subject_end_);
    }
    /// The first '.' in [from, end), or end.
    static const char* find_dot(const char* from, const char* end) noexcept {
      if (from == end) return end;
      const void* dot = std::memchr(from, '.', static_cast<std::size_t>(end - from));
      return dot ? static_cast<const char*>(dot) : end;
    }
    const char* token_begin_ = nullptr;  ///< start of the current token
    const char* token_end_ = nullptr;    ///< its end: a '.' or subject_end_
    const char* subject_end_ = nullptr;
    bool done_ = true;                   ///< past the last token
  };

  /// Tokens of `subject` (which must outlive the range).
  explicit subject_tokens(std::string_view subject) noexcept : subject_(subject) {}
  iterator begin() const noexcept { return iterator(subject_); }
  iterator end() const noexcept { return iterator(); }

 private:
  std::string_view subject_;
};

}  // namespace courier::protocol
