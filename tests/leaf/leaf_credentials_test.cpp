// A leafnode remote with `credentials` (a .creds file: user JWT and nkey
// seed), against a real nats-server 2.9.10 hub in operator mode: the hub
// sends a nonce, Courier signs it with the seed and sends the JWT and the
// signature in CONNECT, and the hub binds the leaf to the JWT's account.
// The operator, account and user JWTs come from tests/test_jwt.hpp.
#include "broker/leaf/leaf_nodes.hpp"

#include <gtest/gtest.h>

#include <nats/nats.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "auth/nats_credentials.hpp"
#include "auth/nkeys.hpp"
#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "hub_cluster.hpp"
#include "libnats_helpers.hpp"
#include "tests/test_jwt.hpp"

namespace courier::leaf_test {
namespace {

namespace nk = auth::nkeys;
using test::creds_text;
using test::make_nkey;
using test::make_user_jwt;
using test::nkey_pair;

class leaf_with_credentials : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("courier-leaf-creds-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    good_creds_ = write("good.creds", creds_text(make_user_jwt(chain_.account, user_), user_.seed_text));
    // A user of an account the hub was never told about.
    const nkey_pair stranger_account = make_nkey(nk::prefix::account);
    const nkey_pair stranger = make_nkey(nk::prefix::user);
    stranger_creds_ = write("stranger.creds", creds_text(make_user_jwt(stranger_account, stranger), stranger.seed_text));
    hub_ = std::make_unique<hub_cluster>(1, chain_.server_config());
    ASSERT_TRUE(hub_->start());
  }

  void TearDown() override {
    if (courier_) courier_->shutdown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  void start_courier(const std::string& credentials) {
    conf::server_options options;
    conf::load_config_string("server_name: courier_leaf\nleafnodes {\n  reconnect: 1\n  remotes = [ { url: \"" +
                                 hub_->leaf_url(0) + "\", credentials: \"" + credentials + "\" } ]\n}\n",
                             options);
    options.host = "127.0.0.1";
    options.port = 0;
    courier_ = std::make_unique<broker::server>(options);
    courier_->start();
    ASSERT_NE(courier_->leafs(), nullptr);
  }

  std::string courier_url() const { return "nats://127.0.0.1:" + std::to_string(courier_->port()); }

  std::filesystem::path dir_;
  test::operator_chain chain_;
  nkey_pair user_ = make_nkey(nk::prefix::user);
  std::string good_creds_, stranger_creds_;
  std::unique_ptr<hub_cluster> hub_;
  std::unique_ptr<broker::server> courier_;
};

TEST_F(leaf_with_credentials, the_hub_binds_the_leaf_to_the_jwt_account_and_messages_cross_both_ways) {
  start_courier(good_creds_);
  ASSERT_TRUE(eventually([&] { return courier_->leafs()->count() == 1 && hub_->member_with_leaf() == 0; }))
      << "Courier did not connect with its credentials; hub log:\n" << hub_->log(0);
  EXPECT_NE(http_get(hub_->http_port(0), "/leafz").find("\"account\": \"" + chain_.account.public_key + "\""),
            std::string::npos)
      << http_get(hub_->http_port(0), "/leafz");
  auto leaf_side = connect_to(courier_url());
  // A client of the same account on the hub (same user, its own connection).
  auto hub_side = connect_to(hub_->client_url(0), good_creds_);
  ASSERT_TRUE(leaf_side && hub_side);
  auto down = subscribe_sync(leaf_side.get(), "down.>");
  auto up = subscribe_sync(hub_side.get(), "up.*");
  natsConnection_Flush(leaf_side.get());
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(until_delivered(hub_side.get(), "down.probe", down.get()));
  ASSERT_TRUE(until_delivered(leaf_side.get(), "up.probe", up.get()));
}

TEST_F(leaf_with_credentials, a_user_of_an_account_the_hub_does_not_know_is_refused) {
  start_courier(stranger_creds_);
  // Refused, and refused again on the next attempt (Courier counts its leaf
  // from the CONNECT it sends until the hub's -ERR closes it, as nats-server
  // does, so only the hub's side says it never got in).
  const auto refusals = [&] {
    const std::string log = hub_->log(0);
    std::size_t count = 0;
    for (auto at = log.find("authentication error"); at != std::string::npos;
         at = log.find("authentication error", at + 1))
      ++count;
    return count;
  };
  ASSERT_TRUE(eventually([&] { return refusals() >= 2; })) << "the hub did not refuse twice; its log:\n"
                                                           << hub_->log(0);
  EXPECT_EQ(hub_->member_with_leaf(), -1);
}

// A credentials file that cannot be used stops the server's construction
// (what `courier -t` runs), with the file named.
TEST(leaf_credentials_config, a_file_that_cannot_be_used_is_an_error_before_start) {
  const auto dir = std::filesystem::temp_directory_path() / ("courier-leaf-creds-bad-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const nkey_pair account = make_nkey(nk::prefix::account);
  const nkey_pair user = make_nkey(nk::prefix::user);
  const std::string good_jwt = make_user_jwt(account, user);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"missing.creds", ""},
      {"empty.creds", "nothing here\n"},
      {"no-seed.creds", "-----BEGIN NATS USER JWT-----\n" + good_jwt + "\n------END NATS USER JWT------\n"},
      {"account-seed.creds", creds_text(good_jwt, account.seed_text)},
  };
  for (const auto& [name, text] : files) {
    const auto path = (dir / name).string();
    if (!text.empty()) std::ofstream(path) << text;
    conf::server_options options;
    conf::load_config_string(
        "leafnodes { remotes = [ { url: \"nats-leaf://127.0.0.1:1\", credentials: \"" + path + "\" } ] }\n", options);
    options.host = "127.0.0.1";
    options.port = 0;
    try {
      broker::server server(options);
      ADD_FAILURE() << name << ": accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      // The seed never appears in an error.
      EXPECT_EQ(std::string(e.what()).find(account.seed_text), std::string::npos) << e.what();
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(leaf_credentials_config, reads_the_file_nsc_writes_and_signs_the_nonce) {
  const nkey_pair account = make_nkey(nk::prefix::account);
  const nkey_pair user = make_nkey(nk::prefix::user);
  const std::string jwt = make_user_jwt(account, user);
  const auto path = (std::filesystem::temp_directory_path() /
                     ("courier-leaf-creds-" + std::to_string(::getpid()) + "-parse.creds")).string();
  std::ofstream(path) << creds_text(jwt, user.seed_text);
  auth::nats_credentials parsed;
  std::string error;
  ASSERT_TRUE(auth::load_credentials_file(path, parsed, error)) << error;
  std::filesystem::remove(path);
  EXPECT_EQ(parsed.user_jwt, jwt);
  EXPECT_EQ(parsed.public_key, user.public_key);
  EXPECT_TRUE(nk::verify_nonce_signature(user.public_key, "a-nonce", auth::sign_nonce(parsed, "a-nonce")));
  EXPECT_FALSE(nk::verify_nonce_signature(user.public_key, "other", auth::sign_nonce(parsed, "a-nonce")));
}

}  // namespace
}  // namespace courier::leaf_test
