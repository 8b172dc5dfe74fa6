// Embeds Courier in a program: starts a broker with no TCP port, answers
// requests in-process, and shows a subscriber receiving a publish.
//
//   build/examples/embedded_hello
#include <chrono>
#include <iostream>

#include "broker/in_process.hpp"
#include "broker/server.hpp"

int main() {
  using namespace courier;
  conf::server_options options;
  options.port = -1;  // in-process only: open no port
  broker::server server(options);
  server.start();

  auto service = server.connect({.name = "greeter"});
  auto app = server.connect({.name = "app"});

  // A service answering requests, in a queue group so that several could share the load.
  service->subscribe(
      "greet.*",
      [&service](const broker::message& request) {
        service->publish(request.reply, "hello, " + request.payload);
      },
      "greeters");

  // An event subscriber.
  app->subscribe("events.>", [](const broker::message& event) {
    std::cout << "event on " << event.subject << ": " << event.payload << "\n";
  });
  app->publish("events.user.login", R"({"user":"ada"})");
  app->flush();

  auto result = app->request("greet.en", "ada", std::chrono::seconds(1));
  std::cout << "request: " << broker::to_string(result.status) << ": " << result.reply.payload << "\n";

  auto nobody = app->request("nobody.home", "", std::chrono::seconds(1));
  std::cout << "request to nobody: " << broker::to_string(nobody.status) << "\n";

  app->drain();
  service->drain();
  server.shutdown();
  return result.status == broker::request_status::ok ? 0 : 1;
}
