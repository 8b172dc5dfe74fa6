#include "broker/event_loop.hpp"

#include <utility>

#include <boost/asio/post.hpp>

namespace courier::broker {

thread_local event_loop* event_loop::current_ = nullptr;

event_loop::event_loop(std::size_t index)
    : index_(index),
      work_(boost::asio::make_work_guard(context_)),
      tick_timer_(context_),
      current_slab_(read_slab::make()) {}

event_loop::~event_loop() {
  if (thread_.joinable()) stop();
  current_slab_->release();
  for (auto* slab : spare_slabs_) slab->release();
}

read_slab& event_loop::slab_to_read_into() {
  if (current_slab_->sole_holder()) return *current_slab_;
  slab_changed_since_tick_ = true;
  read_slab* next = nullptr;
  for (auto& spare : spare_slabs_) {
    if (spare->sole_holder()) {
      next = spare;
      spare = current_slab_;
      break;
    }
  }
  if (next == nullptr) {
    spare_slabs_.push_back(current_slab_);
    next = read_slab::make();
  }
  current_slab_ = next;
  return *current_slab_;
}

bool event_loop::references_allowed() const {
  std::size_t referenced = 0;
  for (const auto* spare : spare_slabs_) referenced += spare->sole_holder() ? 0 : 1;
  // The current slab may become referenced too, and the next read needs a free one.
  return referenced + 1 < max_referenced_slabs;
}

void event_loop::free_spare_slabs() {
  // A whole tick without switching slabs: nobody is holding deliveries in
  // them for long, so the spares only take memory.
  if (std::exchange(slab_changed_since_tick_, false)) return;
  std::erase_if(spare_slabs_, [](read_slab* spare) {
    if (!spare->sole_holder()) return false;
    spare->release();
    return true;
  });
}

void event_loop::start(std::chrono::milliseconds period, std::function<void()> tick, bool own_thread) {
  tick_period_ = period;
  tick_ = std::move(tick);
  if (!own_thread) {
    driven_ = true;
    schedule_tick();
    return;
  }
  thread_ = std::thread([this] {
    current_ = this;
    route_cache_lease::thread_caches() = &routes_;
    schedule_tick();
    context_.run();
    route_cache_lease::thread_caches() = nullptr;
    current_ = nullptr;
  });
}

std::size_t event_loop::poll(std::chrono::microseconds wait) {
  event_loop* const outer = current_;
  route_caches* const outer_caches = route_cache_lease::thread_caches();
  current_ = this;
  route_cache_lease::thread_caches() = &routes_;
  std::size_t ran = wait.count() > 0 ? context_.run_one_for(wait) : 0;
  ran += context_.poll();
  route_cache_lease::thread_caches() = outer_caches;
  current_ = outer;
  return ran;
}

void event_loop::schedule_tick() {
  tick_timer_.expires_after(tick_period_);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    free_spare_slabs();
    mapped_storage::trim(std::chrono::steady_clock::now());
    if (tick_) tick_();
    schedule_tick();
  });
}

void event_loop::flush_soon() {
  if (batch_.empty() || flush_posted_) return;
  flush_posted_ = true;
  // Queued behind the completions this wake-up already produced.
  boost::asio::post(context_, [this] {
    flush_posted_ = false;
    batch_.flush();
  });
}

void event_loop::stop() {
  if (driven_) {
    // Nothing runs this loop but its caller, who is here.
    tick_timer_.cancel();
    work_.reset();
    context_.stop();
    routes_.clear();
    return;
  }
  boost::asio::post(context_, [this] { tick_timer_.cancel(); });
  work_.reset();
  context_.stop();
  if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) {
    thread_.join();
    // The thread is gone: release the subscriptions (and through them the
    // connections) its cached results still hold, while every loop's
    // io_context is alive; the server stops its loops before destroying them.
    routes_.clear();
  }
}

}  // namespace courier::broker
