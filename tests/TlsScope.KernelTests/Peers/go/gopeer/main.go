// gopeer is the Go crypto/tls peer of TlsScope's kernel tests: an HTTPS server, an HTTPS client
// and a raw TLS client, built by ../build with every Go toolchain the tests cover. Standard
// library only, and source compatible with Go 1.15 (no generics, no io.ReadAll).
//
//	gopeer server --port N [--cert F --key F] [--h2] [--tls12|--tls13]
//	gopeer client --url URL [--method M] [--body S] [--header K:V ...] [--h2] [--tls12|--tls13]
//	              [--keylog FILE] [--count N] [--concurrency C] [--close]
//	gopeer raw --addr HOST:PORT --send STRING [--tls12|--tls13] [--keylog FILE] [--wait]
//
// Everything written to stdout goes straight to the file descriptor (os.Stdout is unbuffered).
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const helloBody = "hello from go server\n"

// maxDeep bounds /deep: 100000 levels of a ~1 KiB frame is a ~100 MiB goroutine stack.
const maxDeep = 100000

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	case "raw":
		raw(os.Args[2:])
	case "typehash":
		typeHash()
	default:
		usage()
	}
}

// typeHash prints the hash the runtime holds for *net.TCPConn (the word after the size and
// pointer-bytes fields of its type descriptor, in every release so far): what TlsScope must find
// in the binary on its own, stripped or not.
func typeHash() {
	var c net.Conn = (*net.TCPConn)(nil)
	iface := (*[2]unsafe.Pointer)(unsafe.Pointer(&c))
	itab := (*[3]unsafe.Pointer)(iface[0])
	typ := itab[1]
	fmt.Printf("%d\n", *(*uint32)(unsafe.Pointer(uintptr(typ) + 16)))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gopeer server|client|raw|typehash [flags] (see the source)")
	os.Exit(2)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gopeer: "+format+"\n", args...)
	os.Exit(1)
}

// tlsVersionFlags registers --tls12 and --tls13 and returns a function that pins the version.
func tlsVersionFlags(fs *flag.FlagSet) func(*tls.Config) {
	v12 := fs.Bool("tls12", false, "TLS 1.2 only")
	v13 := fs.Bool("tls13", false, "TLS 1.3 only")
	return func(c *tls.Config) {
		switch {
		case *v12 && *v13:
			fail("--tls12 and --tls13 exclude each other")
		case *v12:
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		case *v13:
			c.MinVersion, c.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
		}
	}
}

func openKeylog(path string) io.Writer {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
	if err != nil {
		fail("keylog: %v", err)
	}
	return f
}

// ---- server ----

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1 (0: any)")
	certFile := fs.String("cert", "", "PEM certificate (default: a generated self-signed one)")
	keyFile := fs.String("key", "", "PEM private key")
	h2 := fs.Bool("h2", false, "offer HTTP/2 (ALPN h2)")
	pin := tlsVersionFlags(fs)
	_ = fs.Parse(args)

	var cert tls.Certificate
	var err error
	if *certFile != "" || *keyFile != "" {
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
	} else {
		cert, err = selfSigned()
	}
	if err != nil {
		fail("certificate: %v", err)
	}

	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	pin(cfg)
	srv := &http.Server{Handler: routes(), TLSConfig: cfg}
	if *h2 {
		// A nil TLSNextProto lets net/http configure its bundled HTTP/2 server.
		cfg.NextProtos = []string{"h2", "http/1.1"}
	} else {
		cfg.NextProtos = []string{"http/1.1"}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fail("listen: %v", err)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		os.Exit(0)
	}()

	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := srv.ServeTLS(ln, "", ""); err != nil {
		fail("serve: %v", err)
	}
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Go-Server", "1")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, helloBody)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := ioutil.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Echo-Len", strconv.Itoa(len(body)))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/deep", func(w http.ResponseWriter, r *http.Request) {
		n, id, err := deepParams(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, deepBody(n, id))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		buf := make([]byte, 32*1024)
		for off := 0; off < n; off += len(buf) {
			chunk := buf
			if n-off < len(chunk) {
				chunk = chunk[:n-off]
			}
			fillBig(chunk, off)
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	return mux
}

// bigPattern is the body of /big?n=N: byte i is bigPattern[i % len(bigPattern)].
const bigPattern = "0123456789abcdefghijklmnopqrstuvwxyz\n"

func fillBig(b []byte, off int) {
	for i := range b {
		b[i] = bigPattern[(off+i)%len(bigPattern)]
	}
}

func deepParams(q url.Values) (n, id int, err error) {
	n, err = strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 || n > maxDeep {
		return 0, 0, fmt.Errorf("n must be 0..%d", maxDeep)
	}
	id, err = strconv.Atoi(q.Get("id"))
	if err != nil {
		return 0, 0, errors.New("id must be an integer")
	}
	return n, id, nil
}

// deepBody answers /deep?n=N&id=K: "deep K N <checksum>\n", computed through N nested calls of
// deep, whose frames hold a 1 KiB array live across the call, so the goroutine's stack has to grow
// (and be copied) several times while the request is served.
func deepBody(n, id int) string {
	return fmt.Sprintf("deep %d %d %08x\n", id, n, deep(0, n, uint32(id)))
}

//go:noinline
func deep(level, n int, seed uint32) uint32 {
	var frame [1024]byte
	for i := range frame {
		frame[i] = byte(uint32(i)*31 + seed + uint32(level))
	}
	next := seed*1664525 + 1013904223
	if level < n {
		next = deep(level+1, n, next)
	}
	sum := next
	for i := range frame {
		sum = (sum ^ uint32(frame[i])) * 16777619
	}
	return sum
}

// ---- client ----

type headerList []string

func (h *headerList) String() string { return strings.Join(*h, ", ") }

func (h *headerList) Set(v string) error {
	if !strings.Contains(v, ":") {
		return errors.New("want K:V")
	}
	*h = append(*h, v)
	return nil
}

type result struct {
	ok   bool
	line string
	body []byte
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	rawURL := fs.String("url", "", "the URL")
	method := fs.String("method", "GET", "request method")
	bodyArg := fs.String("body", "", "request body")
	var headers headerList
	fs.Var(&headers, "header", "K:V request header (repeatable)")
	h2 := fs.Bool("h2", false, "HTTP/2 (ALPN h2), else HTTP/1.1")
	keylog := fs.String("keylog", "", "append the TLS secrets (NSS key log format) to this file")
	count := fs.Int("count", 1, "requests in all")
	concurrency := fs.Int("concurrency", 1, "goroutines sending them")
	closeConn := fs.Bool("close", false, "a new connection per request (Connection: close)")
	pin := tlsVersionFlags(fs)
	_ = fs.Parse(args)
	if *rawURL == "" || *count < 1 || *concurrency < 1 {
		fail("client needs --url, --count >= 1, --concurrency >= 1")
	}
	u, err := url.Parse(*rawURL)
	if err != nil {
		fail("url: %v", err)
	}

	cfg := &tls.Config{InsecureSkipVerify: true, KeyLogWriter: openKeylog(*keylog)}
	pin(cfg)
	tr := &http.Transport{
		TLSClientConfig:   cfg,
		DisableKeepAlives: *closeConn,
	}
	if *h2 {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}

	// The body the server must send, when the path says so ("" = not checked).
	var want string
	switch u.Path {
	case "/hello":
		want = helloBody
	case "/deep":
		if n, id, err := deepParams(u.Query()); err == nil {
			want = deepBody(n, id)
		}
	}

	var mu sync.Mutex
	ok, bad, failed := 0, 0, 0
	jobs := make(chan int)
	var wg sync.WaitGroup
	for g := 0; g < *concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				r := request(hc, u, *method, *bodyArg, headers, *closeConn, *h2)
				mu.Lock()
				if r.line != "" {
					fmt.Println(r.line)
				}
				if *count == 1 && r.body != nil {
					_, _ = os.Stdout.Write(r.body)
				}
				switch {
				case !r.ok:
					failed++
				case want != "" && string(r.body) != want:
					bad++
					fmt.Fprintf(os.Stderr, "gopeer: unexpected body %q\n", r.body)
				default:
					ok++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < *count; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	if *count > 1 {
		fmt.Printf("done %d ok %d bad %d\n", *count, ok, bad)
	}
	if ok != *count {
		fmt.Fprintf(os.Stderr, "gopeer: %d of %d requests failed, %d bodies wrong\n", failed+bad, *count, bad)
		os.Exit(1)
	}
	os.Exit(0)
}

func request(hc *http.Client, u *url.URL, method, body string, headers headerList, closeConn, h2 bool) result {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopeer: request: %v\n", err)
		return result{}
	}
	for _, h := range headers {
		i := strings.Index(h, ":")
		k, v := strings.TrimSpace(h[:i]), strings.TrimSpace(h[i+1:])
		if strings.EqualFold(k, "Host") {
			req.Host = v
		} else {
			req.Header.Add(k, v)
		}
	}
	req.Close = closeConn
	var local, remote string
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			local, remote = info.Conn.LocalAddr().String(), info.Conn.RemoteAddr().String()
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopeer: %v\n", err)
		return result{}
	}
	data, err := ioutil.ReadAll(resp.Body)
	resp.Body.Close()
	line := fmt.Sprintf("status=%d proto=%s local=%s remote=%s bodylen=%d", resp.StatusCode, resp.Proto, local, remote, len(data))
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopeer: reading the body: %v\n", err)
		return result{line: line, body: data}
	}
	if h2 != (resp.ProtoMajor == 2) {
		fmt.Fprintf(os.Stderr, "gopeer: negotiated %s (--h2 %v)\n", resp.Proto, h2)
		return result{line: line, body: data}
	}
	return result{ok: resp.StatusCode/100 == 2, line: line, body: data}
}

// ---- raw ----

func raw(args []string) {
	fs := flag.NewFlagSet("raw", flag.ExitOnError)
	addr := fs.String("addr", "", "HOST:PORT")
	send := fs.String("send", "", `bytes to send; \r \n \t \\ \xHH are unescaped`)
	keylog := fs.String("keylog", "", "append the TLS secrets (NSS key log format) to this file")
	wait := fs.Bool("wait", false, "after connecting, wait for a line on stdin before sending")
	wrap := fs.Bool("wrap", false, "run TLS over a wrapper of the TCP connection (as a proxy dialer does)")
	pin := tlsVersionFlags(fs)
	_ = fs.Parse(args)
	if *addr == "" {
		fail("raw needs --addr")
	}
	payload, err := unescape(*send)
	if err != nil {
		fail("--send: %v", err)
	}

	cfg := &tls.Config{InsecureSkipVerify: true, KeyLogWriter: openKeylog(*keylog)}
	pin(cfg)
	var conn *tls.Conn
	if *wrap {
		tcp, err := net.DialTimeout("tcp", *addr, 20*time.Second)
		if err != nil {
			fail("dial: %v", err)
		}
		cfg.ServerName = "localhost"
		conn = tls.Client(wrappedConn{tcp}, cfg)
		if err := conn.Handshake(); err != nil {
			fail("handshake: %v", err)
		}
	} else {
		d := &net.Dialer{Timeout: 20 * time.Second}
		var err error
		conn, err = tls.DialWithDialer(d, "tcp", *addr, cfg)
		if err != nil {
			fail("dial: %v", err)
		}
	}
	fmt.Printf("connected local=%s remote=%s\n", conn.LocalAddr(), conn.RemoteAddr())
	if *wait {
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && err != io.EOF {
			fail("stdin: %v", err)
		}
	}
	if _, err := conn.Write(payload); err != nil {
		fail("write: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	got, err := ioutil.ReadAll(conn)
	fmt.Printf("received %d\n", len(got))
	_, _ = os.Stdout.Write(got)
	conn.Close()
	if err != nil {
		fail("read: %v", err)
	}
}

// wrappedConn is a net.Conn that is not a *net.TCPConn: the tls.Conn over it has no netFD to
// follow, so TlsScope must learn the socket from the syscalls of each call.
type wrappedConn struct {
	net.Conn
}

func unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, errors.New("trailing backslash")
		}
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, errors.New(`short \x escape`)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf(`bad \x escape: %v`, err)
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return out, nil
}
