#include "broker/client_identity.hpp"

#include "broker/server.hpp"

namespace courier::broker {

const auth::auth_result& client_identity::authenticate(server& owner, const auth::auth_config& config,
                                                       const auth::client_credentials& credentials) {
  auto result = auth::authenticate(config, credentials);
  if (result.ok) {
    account_ = &owner.find_account(result.account);
    set_permissions(result.perms);
  }
  result_ = std::move(result);
  return result_;
}

auth::reload_outcome::action client_identity::reload(const auth::auth_config& config,
                                                     const auth::client_credentials& credentials) {
  auto outcome = auth::reauthenticate(config, credentials, result_);
  if (outcome.what == auth::reload_outcome::action::keep) {
    set_permissions(outcome.result.perms);
    result_ = std::move(outcome.result);
  }
  return outcome.what;
}

void client_identity::set_permissions(std::shared_ptr<const auth::permissions> perms) {
  if (perms) {
    permissions_.store(std::make_shared<auth::permission_cache>(std::move(perms)));
    has_permissions_.store(true);
  } else {
    has_permissions_.store(false);
    permissions_.store(nullptr);
  }
}

}  // namespace courier::broker
