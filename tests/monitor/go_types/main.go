// Decodes every monitoring document of a server into nats-server 2.9.10's own
// Go types (the ones nats-top, prometheus-nats-exporter and the nats CLI
// read them with), refusing unknown fields: a field Courier sends that
// nats-server does not have, or a value of the wrong JSON type, fails.
//
//	go_types http://127.0.0.1:8222
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/nats-io/nats-server/server"
)

type check struct {
	path   string
	target func() interface{}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_types BASE_URL")
		os.Exit(2)
	}
	base := os.Args[1]
	checks := []check{
		{"/varz", func() interface{} { return &server.Varz{} }},
		{"/connz", func() interface{} { return &server.Connz{} }},
		{"/connz?subs=1&auth=1", func() interface{} { return &server.Connz{} }},
		{"/connz?subs=detail", func() interface{} { return &server.Connz{} }},
		{"/connz?state=closed", func() interface{} { return &server.Connz{} }},
		{"/routez", func() interface{} { return &server.Routez{} }},
		{"/gatewayz", func() interface{} { return &server.Gatewayz{} }},
		{"/leafz", func() interface{} { return &server.Leafz{} }},
		{"/subsz", func() interface{} { return &server.Subsz{} }},
		{"/subsz?subs=1", func() interface{} { return &server.Subsz{} }},
		{"/accountz", func() interface{} { return &server.Accountz{} }},
		{"/accountz?acc=$G", func() interface{} { return &server.Accountz{} }},
		{"/accstatz?unused=1", func() interface{} { return &server.AccountStatz{} }},
		{"/jsz", func() interface{} { return &server.JSInfo{} }},
		{"/healthz", func() interface{} { return &server.HealthStatus{} }},
	}
	failed := 0
	for _, c := range checks {
		resp, err := http.Get(base + c.path)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", c.path, err)
			failed++
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Printf("FAIL %s: status %d\n", c.path, resp.StatusCode)
			failed++
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		target := c.target()
		if err := dec.Decode(target); err != nil {
			fmt.Printf("FAIL %s: %v\n", c.path, err)
			failed++
			continue
		}
		fmt.Printf("ok   %s (%d bytes)\n", c.path, len(body))
	}
	if failed > 0 {
		os.Exit(1)
	}
}
