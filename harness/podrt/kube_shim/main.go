// kube-shim: the two pieces of Kubernetes node plumbing that the runtime tier of
// the todo-chatbot harness needs on a plain Docker network, in one static binary.
//
//	kube-shim pause                 the pod sandbox: holds the pod's network namespace
//	                                (IP, published ports, hostname) while the app
//	                                containers join it and restart, like Kubernetes' pause
//	kube-shim service-proxy FILE    a Service: see below
//
// service-proxy stands in for a Kubernetes Service and kube-proxy. It listens on every Service port named in the endpoints file and forwards each
// new TCP connection to one of the endpoints that are Ready right now, round
// robin, like kube-proxy's original userspace mode: a connection that is already
// open stays with its endpoint when the endpoint leaves the list (as conntrack
// keeps it in iptables mode); a dial that fails moves on to the next endpoint;
// with no endpoint at all the connection is closed at once (the Service has no
// endpoints).
//
// The harness, which plays the kubelet and the endpoints controller, rewrites the
// file (atomically, by rename) whenever readiness changes. The file is re-read
// when its modification time changes, checked on every new connection.
//
// Endpoints file (JSON): {"8000": ["172.18.0.4:8000", "172.18.0.5:8000"]}
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type table struct {
	mu      sync.Mutex
	path    string
	modTime time.Time
	size    int64
	byPort  map[string][]string
	next    map[string]*uint64
}

func (t *table) endpoints(port string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if info, err := os.Stat(t.path); err == nil && (!info.ModTime().Equal(t.modTime) || info.Size() != t.size) {
		if data, err := os.ReadFile(t.path); err == nil {
			parsed := map[string][]string{}
			if err := json.Unmarshal(data, &parsed); err == nil {
				t.byPort, t.modTime, t.size = parsed, info.ModTime(), info.Size()
			} else {
				log.Printf("endpoints file unreadable, keeping the previous table: %v", err)
			}
		}
	}
	return append([]string(nil), t.byPort[port]...)
}

func (t *table) counter(port string) *uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.next[port] == nil {
		t.next[port] = new(uint64)
	}
	return t.next[port]
}

func serve(t *table, port string) {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatalf("listen on %s: %v", port, err)
	}
	log.Printf("service port %s: listening", port)
	for {
		client, err := ln.Accept()
		if err != nil {
			log.Printf("accept on %s: %v", port, err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go forward(t, port, client)
	}
}

func forward(t *table, port string, client net.Conn) {
	defer client.Close()
	eps := t.endpoints(port)
	if len(eps) == 0 {
		return // no Ready endpoint: the connection is refused, as by kube-proxy's REJECT rule
	}
	start := atomic.AddUint64(t.counter(port), 1)
	var backend net.Conn
	var err error
	for i := 0; i < len(eps); i++ {
		addr := eps[(int(start)+i)%len(eps)]
		backend, err = net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			break
		}
		log.Printf("service port %s: endpoint %s failed (%v), trying the next", port, addr, err)
	}
	if backend == nil {
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if c, ok := dst.(*net.TCPConn); ok {
			c.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	<-done
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "pause" {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		return
	}
	if len(os.Args) != 3 || os.Args[1] != "service-proxy" {
		fmt.Fprintln(os.Stderr, "usage: kube-shim pause | kube-shim service-proxy ENDPOINTS_JSON_FILE")
		os.Exit(2)
	}
	t := &table{path: os.Args[2], byPort: map[string][]string{}, next: map[string]*uint64{}}
	ports := os.Getenv("SERVICE_PORTS") // space-separated, fixed at start like a Service's spec.ports
	var list []string
	for _, p := range splitFields(ports) {
		list = append(list, p)
	}
	if len(list) == 0 {
		fmt.Fprintln(os.Stderr, "SERVICE_PORTS is empty: set it to the Service's ports, e.g. '8000'")
		os.Exit(2)
	}
	sort.Strings(list)
	for _, p := range list[1:] {
		go serve(t, p)
	}
	serve(t, list[0])
}

func splitFields(s string) []string {
	var out []string
	cur := ""
	for _, r := range s {
		if r == ' ' || r == ',' {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
			continue
		}
		cur += string(r)
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}
