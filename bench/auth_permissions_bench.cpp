// Permission checks on the paths a message takes: the publish check (the
// per-connection decision cache, then the allow/deny lists), the SUB check,
// and the delivery filter for wildcard subscriptions (called by publishers on
// any thread). The lists are a realistic user's: a few dozen allow entries
// with wildcards and a deny list, as in conf/examples/users.conf but larger.
#include "auth/permissions.hpp"

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using courier::auth::permission_cache;
using courier::auth::permission_spec;
using courier::auth::permissions;
using courier::auth::subject_permission;

std::shared_ptr<const permissions> user_permissions() {
  static const auto compiled = [] {
    permission_spec spec;
    subject_permission publish;
    publish.allow.emplace();
    subject_permission subscribe;
    subscribe.allow.emplace();
    for (int i = 0; i < 32; ++i) {
      const std::string service = "svc" + std::to_string(i);
      publish.allow->push_back(service + ".*.request");
      publish.allow->push_back(service + ".events.>");
      subscribe.allow->push_back(service + ".>");
    }
    publish.allow->push_back("_INBOX.>");
    subscribe.allow->push_back("_INBOX.>");
    subscribe.allow->push_back("jobs.* workers");
    publish.deny = {"svc0.admin.>", "svc1.*.request.internal"};
    subscribe.deny = {"svc2.secret.>", "*.audit"};
    spec.publish = std::move(publish);
    spec.subscribe = std::move(subscribe);
    return std::make_shared<const permissions>(std::move(spec));
  }();
  return compiled;
}

/// Subjects a connection publishes to: `distinct` of them, cycled.
std::vector<std::string> publish_subjects(int distinct) {
  std::vector<std::string> subjects;
  for (int i = 0; i < distinct; ++i) {
    subjects.push_back("svc" + std::to_string(i % 32) + ".events." + std::to_string(i));
  }
  return subjects;
}

// Few distinct subjects: every check after the first is a decision-cache hit.
void PermissionsPublishCached(benchmark::State& state) {
  permission_cache cache(user_permissions());
  const auto subjects = publish_subjects(16);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.can_publish(subjects[i++ % subjects.size()]));
  }
}
BENCHMARK(PermissionsPublishCached);

// More distinct subjects than the decision cache holds (128): most checks
// go to the allow and deny lists.
void PermissionsPublishChurn(benchmark::State& state) {
  permission_cache cache(user_permissions());
  const auto subjects = publish_subjects(4096);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.can_publish(subjects[i++ % subjects.size()]));
  }
}
BENCHMARK(PermissionsPublishChurn);

// The SUB check (no per-connection cache, as in nats-server).
void PermissionsSubscribe(benchmark::State& state) {
  const auto perms = user_permissions();
  const std::string subjects[] = {"svc7.>", "svc12.orders.*", "_INBOX.abc.*", "svc2.secret.x"};
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(perms->can_subscribe(subjects[i++ % 4]));
  }
}
BENCHMARK(PermissionsSubscribe);

// The delivery filter for a wildcard subscription, from `threads` publishers
// at once (the filter is called on the publisher's thread).
void PermissionsDeliverWildcard(benchmark::State& state) {
  static permission_cache* shared = nullptr;
  if (state.thread_index() == 0) shared = new permission_cache(user_permissions());
  const auto subjects = publish_subjects(64);
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    benchmark::DoNotOptimize(shared->deliver_allowed(subjects[i++ % subjects.size()], "svc0.>"));
  }
  if (state.thread_index() == 0) {
    delete shared;
    shared = nullptr;
  }
}
BENCHMARK(PermissionsDeliverWildcard)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
