"""Cases of the differential monitoring test (see monitor_diff.py).

A case is a dict: name, doc, config (nats-server config text; the harness
adds `http_port: N` unless http_flag is set, then it passes `-m N`, or
http_line is given, a config line where {port} stands for N), an
optional list `volatile` of (endpoint glob, path glob) pairs compared by type
only in this case, and scenario(run): the client activity and the fetches,
run identically against both servers (see Run in monitor_diff.py).

Rules for scenarios: wait for the servers by reading (sync, poll), never by
sleeping; fetch a baseline of /varz, /subsz and /accountz?acc= before the
client activity when those are fetched again later (the harness refuses a
case that does not); keep every sort key distinct across connections where
a /connz sort is compared, or the tie is only checked as a set.
"""

CASES = []


def case(name, doc, config=None, http_flag=False, volatile=None, base_path="", http_line=None):
    def register(scenario):
        CASES.append({"name": name, "doc": doc, "config": config, "http_flag": http_flag,
                      "http_line": http_line,
                      "base_path": base_path,
                      "volatile": volatile or [], "scenario": scenario})
        return scenario
    return register


# --- shared client activity -------------------------------------------------

def traffic(run):
    """Four named clients with subscriptions, two single-member queue groups
    and messages in both directions, chosen so that every /connz sort key
    has a different value on each connection:

        client  subs  in_msgs  in_bytes  out_msgs  out_bytes  last activity
        alpha    1      4         3         2          7       2nd
        beta     3      1         0         8         32       4th
        gamma    0      5        27         0          0       1st
        delta    2      2         2         3         22       3rd

    Connections start in the order alpha, beta, gamma, delta."""
    run.connect("alpha")
    run.connect("beta", lang="go", version="1.11.0")
    run.connect("gamma", lang="c", version="3.3.0")
    run.connect("delta")
    run.sub("alpha", "a.one", 1)
    run.sync("alpha")
    run.sub("beta", "a.one", 1)
    run.sub("beta", "b.*", 2)
    run.sub("beta", "c.>", 3, queue="q1")
    run.sync("beta")
    run.sub("delta", "b.x", 5)
    run.sub("delta", "c.q", 6, queue="q2")
    run.sync("delta")
    run.pub("gamma", "a.one", "hello")
    run.pub("gamma", "b.x", "0123456789")
    run.pub("gamma", "b.x", "0123456789")
    run.pub("gamma", "c.q", "qq")
    run.sync("gamma")
    run.pub("alpha", "b.y", "y")
    run.pub("alpha", "b.y", "y")
    run.pub("alpha", "b.y", "y", reply="alpha.reply")
    run.sync("alpha")
    run.pub("delta", "a.one", "zz")
    run.sync("delta")
    for name in ("alpha", "beta", "delta"):
        run.sync(name)
    # Last activity: a message published (to no subscriber) in this order.
    # A PING does not count as activity in nats-server; a PUB or SUB does,
    # and a delivery stamps the subscriber with the publisher's time.
    for name in ("gamma", "alpha", "delta", "beta"):
        run.pub(name, "tick", "")
        run.sync(name, record=False)


def baseline(run, *paths):
    for p in paths:
        run.fetch(p)


# --- /varz ----------------------------------------------------------------------

@case("varz_defaults", "/varz of a server with no options but the monitoring port")
def _(run):
    run.fetch("/varz")
    run.fetch("/varz?callback=cb")


@case("varz_config", "/varz echoes limits and settings from the config file",
      config='server_name: "monitor_test"\n'
             'max_payload: 2048\n'
             'max_pending: 65536\n'
             'max_control_line: 1024\n'
             'max_connections: 100\n'
             'ping_interval: "45s"\n'
             'ping_max: 3\n'
             'write_deadline: "3s"\n'
             'max_subscriptions: 50\n'
             'lame_duck_duration: "30s"\n')
def _(run):
    run.fetch("/varz")


@case("varz_traffic", "/varz counters after connections, subscriptions and traffic")
def _(run):
    baseline(run, "/varz")
    traffic(run)
    run.fetch("/varz")
    run.close("gamma")
    run.fetch("/varz?callback=cb")


@case("varz_websocket", "/varz shows the websocket block's settings",
      config='websocket {\n'
             '  port: -1\n'
             '  host: "127.0.0.1"\n'
             '  no_tls: true\n'
             '  compression: true\n'
             '  same_origin: true\n'
             '  allowed_origins: ["http://a.example", "https://b.example:8443"]\n'
             '  handshake_timeout: "3s"\n'
             '  advertise: "ws.example:443"\n'
             '  authorization { token: "abc", timeout: 3 }\n'
             '}\n',
      volatile=[("/varz", "websocket.port")])
def _(run):
    run.fetch("/varz")


@case("varz_websocket_defaults", "/varz with the smallest websocket block",
      config='websocket { port: -1, no_tls: true }\n',
      volatile=[("/varz", "websocket.port")])
def _(run):
    run.fetch("/varz")


@case("varz_http_flag", "monitoring port given by -m on the command line",
      http_flag=True)
def _(run):
    run.fetch("/varz")
    run.fetch("/healthz")


@case("varz_http_hostport", "monitoring listener given as http: \"host:port\" in the config",
      http_line='http: "127.0.0.1:{port}"')
def _(run):
    run.fetch("/varz")


# --- /connz ----------------------------------------------------------------------

@case("connz_open", "/connz with subscriptions lists, auth info, cid, mqtt_client filters")
def _(run):
    baseline(run, "/connz")
    traffic(run)
    for q in ("", "?subs=1", "?subs=detail", "?subs=true", "?subs=0", "?auth=1", "?auth=true",
              "?subs=1&auth=1", "?state=open", "?state=any", "?state=ANY", "?mqtt_client=foo",
              "?cid=999999", "?user=nobody", "?acc=$G", "?acc=nope", "?callback=cb"):
        run.fetch("/connz" + q)
    run.unsub("beta", 2, max_msgs=10)     # a subscription with a limit shows "max"
    run.sync("beta")
    run.fetch("/connz?subs=detail&sort=subs")
    cids = cids_by_name(run)
    run.fetch("/connz?cid=%d" % cids.get("beta", 0), label="/connz?cid=<beta>")
    run.fetch("/connz?cid=%d&subs=detail" % cids.get("delta", 0), label="/connz?cid=<delta>&subs=detail")


def cids_by_name(run):
    """The cid of each open client, as this server numbers them (the
    numbers themselves are compared in the /connz documents)."""
    found = {}

    def learn(doc):
        for c in doc.get("connections") or []:
            found[c.get("name")] = c.get("cid")
        return bool(found)
    run.poll("/connz?limit=1000", learn, "the cids of the clients")
    return found


SORTS = ("cid", "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to", "bytes_from",
         "last", "idle", "uptime")


@case("connz_sort", "/connz?sort= every option on open connections; stop/reason only when closed")
def _(run):
    traffic(run)
    for s in SORTS:
        run.fetch("/connz?sort=%s" % s)
    for q in ("sort=stop", "sort=reason", "sort=stop&state=open", "sort=reason&state=any",
              "sort=bogus", "sort=CID", "sort=", "sort=msgs_to&limit=2", "sort=bytes_from&offset=1&limit=2",
              "sort=subs&subs=1"):
        run.fetch("/connz?" + q)


@case("connz_paging", "/connz offset and limit, including huge, negative and bad values")
def _(run):
    traffic(run)
    for n in ("epsilon", "zeta"):
        run.connect(n)
    for q in ("offset=2&limit=2", "offset=1", "limit=1", "limit=0", "limit=-1", "offset=-1",
              "limit=99999999", "limit=99999999&offset=-1", "offset=6", "offset=100",
              "offset=5&limit=5", "offset=abc", "limit=abc", "limit=1.5", "subs=foo", "auth=foo",
              "cid=abc", "cid=-1", "state=bad", "state=", "offset=1&limit=2&sort=cid"):
        run.fetch("/connz?" + q)


CLOSED_RUN = ("client_closed", "no_connect", "parser_error", "too_big", "bad_subject")


def closing_clients(run):
    """Connections that end in different ways (reasons in comments are
    nats-server's)."""
    run.connect("client_closed")
    run.sub("client_closed", "keep.me", 1)
    run.pub("client_closed", "nowhere", "abc")
    run.sync("client_closed")
    run.close("client_closed")                 # Client Closed
    run.connect("no_connect", connect=False)
    run.close("no_connect")                    # Client Closed, no name/lang
    run.connect("parser_error")
    run.send("parser_error", "BOGUS\r\n")      # Parser Error
    run.wait_closed_by_server("parser_error")
    run.connect("too_big")
    run.send("too_big", "PUB big 2000\r\n")    # Maximum Payload Exceeded
    run.wait_closed_by_server("too_big")
    run.connect("bad_subject", pedantic=True)
    run.pub("bad_subject", "a..b", "x")        # pedantic: invalid subject, stays open
    run.sync("bad_subject")


@case("connz_closed", "closed connections and their reasons; state=closed|any, sort=stop|reason",
      config="max_payload: 1024\n")
def _(run):
    baseline(run, "/varz")
    traffic(run)
    closing_clients(run)
    run.poll("/connz?state=closed", lambda d: d.get("num_connections", 0) >= 4,
             "four closed connections")
    # subs=detail comes last: nats-server 2.9.10 writes the detail list into
    # its stored record of a closed connection, so every later closed
    # document shows it, asked or not (README: a quirk Courier does not copy).
    for q in ("state=closed", "state=any", "state=open", "state=closed&sort=stop",
              "state=closed&sort=reason", "state=closed&subs=1",
              "state=closed&sort=cid", "state=closed&sort=start", "state=closed&sort=msgs_from",
              "state=closed&sort=idle", "state=closed&sort=uptime",
              "state=closed&sort=last", "state=closed&sort=subs", "state=closed&offset=1&limit=2", "state=any&sort=msgs_from",
              "state=closed&auth=1", "state=closed&acc=$G", "state=closed&cid=999999",
              "state=closed&subs=detail"):
        run.fetch("/connz?" + q)
    run.fetch("/varz")


@case("connz_auth", "users in two accounts: auth=1, user=, acc=, and an authentication failure",
      config='accounts {\n'
             '  A { users [ {user: alice, password: pa}, {user: bob, password: pb} ] }\n'
             '  B { users [ {user: carol, password: pc} ] }\n'
             '}\n')
def _(run):
    baseline(run, "/varz")
    run.connect("c_alice", user="alice", password="pa")
    run.connect("c_bob", user="bob", password="pb")
    run.connect("c_carol", user="carol", password="pc")
    run.connect("c_bad", user="alice", password="wrong")      # Authentication Failure
    run.sub("c_alice", "x", 1)
    run.sync("c_alice")
    run.pub("c_bob", "x", "hi")
    run.sync("c_bob")
    run.sync("c_alice")
    run.connect("c_dave", user="bob", password="pb")
    run.close("c_dave")                                        # Client Closed, account A
    run.poll("/connz?state=closed", lambda d: d.get("num_connections", 0) >= 2,
             "the failed authentication and the closed client to be recorded")
    for q in ("?state=closed&acc=A", "?state=closed&acc=A&auth=1", "?state=closed&user=bob", "", "?auth=1", "?user=alice", "?user=alice&auth=1", "?acc=A", "?acc=B&auth=1",
              "?acc=nope", "?user=nobody", "?state=closed", "?state=closed&auth=1",
              "?state=any&auth=1&sort=cid", "?state=closed&sort=reason&auth=1", "?acc=A&user=bob"):
        run.fetch("/connz" + q)
    run.fetch("/varz")


@case("slow_consumer", "a subscriber that stops reading is cut: Slow Consumer (Pending Bytes)",
      config="max_pending: 4096\nmax_payload: 1024\n",
      # How many messages reach a slow consumer before the cut depends on
      # the socket buffers; these are compared by type only.
      volatile=[("/connz", "connections[].out_msgs"), ("/connz", "connections[].out_bytes"),
                ("/connz", "connections[].pending_bytes"),
                ("/varz", "out_msgs"), ("/varz", "out_bytes"),
                ("/accstatz", "account_statz[].sent.*")])
def _(run):
    baseline(run, "/varz")
    run.connect("slow", rcvbuf=2048)
    run.sub("slow", "big", 1)
    run.sync("slow")
    run.connect("producer")
    # 300 kB: far more than the socket buffers of a consumer reading
    # nothing with a 2 kB receive buffer (nats-server cut it after 13-40 kB
    # in trials); the producer is stalled by the server meanwhile, so its
    # PONG comes once the consumer is cut.
    for _ in range(300):
        run.pub("producer", "big", "x" * 1000)
    run.sync("producer", record=False)
    run.poll("/connz?state=closed", lambda d: d.get("num_connections", 0) >= 1,
             "the slow consumer to be cut")
    for q in ("/connz?state=closed", "/connz?state=closed&subs=1", "/connz?state=any&sort=pending",
              "/varz", "/accstatz", "/accstatz?unused=1"):
        run.fetch(q)


# --- /subsz -------------------------------------------------------------------

@case("subsz", "/subsz statistics, subs=1 lists, test=subject, acc=, paging and errors")
def _(run):
    baseline(run, "/subsz", "/subsz?subs=1", "/subsz?acc=$G", "/subsz?acc=$G&subs=1", "/subsz?acc=nope",
             "/subsz?acc=nope&subs=1")
    traffic(run)
    run.unsub("delta", 5)
    run.sync("delta")
    for q in ("", "?subs=1", "?subs=true", "?acc=$G", "?acc=$G&subs=1", "?test=b.x", "?subs=1&test=b.x",
              "?subs=1&test=a.one", "?subs=1&test=c.q", "?subs=1&test=nomatch", "?subs=1&acc=nope", "?subs=1&offset=100", "?test=foo.*",
              "?test=foo.>", "?test=", "?acc=nope", "?subs=1&limit=99999999", "?subs=1&offset=abc",
              "?subs=foo", "?callback=cb"):
        run.fetch("/subsz" + q)
    run.fetch("/subscriptionsz")


# --- /accountz, /accstatz -----------------------------------------------------

@case("accountz", "/accountz, ?acc=, /accstatz and ?unused=1 with two configured accounts",
      config='accounts {\n'
             '  A { users [ {user: alice, password: pa} ] }\n'
             '  B { users [ {user: carol, password: pc} ] }\n'
             '  C { }\n'
             '}\n')
def _(run):
    baseline(run, "/accountz?acc=A", "/accountz?acc=B", "/accountz?acc=C", "/accountz?acc=$G",
             "/subsz?acc=A", "/subsz?acc=A&subs=1", "/varz")
    run.connect("c_alice", user="alice", password="pa")
    run.connect("c_carol", user="carol", password="pc")
    run.sub("c_alice", "a.>", 1)
    run.sub("c_alice", "a.q", 2, queue="workers")
    run.sync("c_alice")
    run.pub("c_alice", "a.b", "self")
    run.sync("c_alice")
    run.sub("c_carol", "b", 1)
    run.pub("c_carol", "b", "12345")
    run.pub("c_carol", "b", "12345")
    run.sync("c_carol")
    for q in ("/accountz", "/accountz?acc=A", "/accountz?acc=B", "/accountz?acc=C",
              "/accountz?acc=$G", "/accountz?acc=nope", "/accountz?callback=cb",
              "/accstatz", "/accstatz?unused=1", "/accstatz?unused=true", "/accstatz?acc=B",
              "/accstatz?unused=foo", "/accstatz?callback=cb", "/subsz?acc=A", "/subsz?acc=A&subs=1",
              "/connz?acc=A&subs=detail", "/varz"):
        run.fetch(q)


# --- /jsz, /healthz, /routez, /gatewayz, /leafz, index, errors ----------------

@case("jsz_healthz", "/jsz and /healthz (JetStream not enabled) with their options")
def _(run):
    for q in ("/jsz", "/jsz?accounts=1", "/jsz?acc=$G", "/jsz?config=1", "/jsz?streams=1",
              "/jsz?consumers=1", "/jsz?callback=cb", "/healthz", "/healthz?js-enabled-only=true",
              "/healthz?js-server-only=true", "/healthz?js-enabled=true", "/healthz?callback=cb"):
        run.fetch(q)


@case("cluster_endpoints", "/routez, /gatewayz, /leafz on a server without cluster, gateway or leafnodes")
def _(run):
    traffic(run)
    for q in ("/routez", "/routez?subs=1", "/routez?subs=detail", "/routez?callback=cb",
              "/gatewayz", "/gatewayz?accs=1", "/gatewayz?gw_name=x", "/gatewayz?callback=cb",
              "/leafz", "/leafz?subs=1", "/leafz?callback=cb"):
        run.fetch(q)


@case("index_and_errors", "the index page, 404s, 400s and JSONP; no polling, so /varz "
      "http_req_stats is compared exactly")
def _(run):
    baseline(run, "/varz")
    for q in ("/", "/?callback=cb", "/bogus", "/varz/", "/connz/x", "/VARZ", "/connz?sort=bogus",
              "/connz?state=bad", "/connz?cid=abc", "/subsz?test=foo.*", "/connz?sort=stop",
              "/connz?callback=cb", "/subsz?callback=cb", "/routez?callback=cb", "/varz?callback=cb",
              # refused option values: some endpoints count these requests, some do not
              "/connz?auth=foo", "/connz?offset=abc", "/subsz?subs=foo", "/subsz?offset=abc",
              "/accstatz?unused=foo", "/routez?subs=foo", "/leafz?subs=foo", "/jsz?accounts=foo",
              "/gatewayz?accs=foo", "/healthz?js-enabled-only=foo", "/accountz?acc=nope",
              "/routez?subs=detail", "/leafz?subs=detail", "/jsz?streams=foo", "/jsz?leader-only=foo",
              "/jsz?offset=abc", "/healthz?js-server-only=foo", "/gatewayz?gw_name=foo"):
        run.fetch(q)
    run.fetch_on_one_connection(["/healthz", "/bogus", "/connz?sort=bogus", "/routez", "/varz"])
    traffic(run)
    run.fetch("/varz")


@case("base_path", "http_base_path moves every endpoint under /mon",
      config='http_base_path: "/mon"\n', base_path="/mon")
def _(run):
    baseline(run, "/mon/varz", "/mon/subsz")
    traffic(run)
    for q in ("/mon/", "/mon", "/mon/connz", "/mon/subsz", "/mon/routez", "/mon/healthz",
              "/mon/accountz", "/mon/accstatz", "/mon/jsz", "/mon/leafz", "/mon/gatewayz",
              "/varz", "/connz", "/", "/mon/bogus", "/mon/varz?callback=cb", "/mon/varz"):
        run.fetch(q)
