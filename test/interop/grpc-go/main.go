// A grpc-go peer for interoperability tests of our gRPC/HTTP/2 implementation (test/integration/
// grpc-go-interop.test.ts). It moves raw bytes (no generated code): as a server it echoes calls, as a
// client it runs a fixed set of calls against a server and prints one JSON object with the results.
// Built by the test with Debian's golang-go and golang-google-grpc-dev (GOPATH mode, no network).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// rawCodec passes message bytes through unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string   { return "proto" }
func (rawCodec) String() string { return "proto" }

func tlsConfig(certDir, name, serverName string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(certDir+"/"+name+".crt", certDir+"/"+name+".key")
	check(err)
	rootPEM, err := ioutil.ReadFile(certDir + "/root.crt")
	check(err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      roots,
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS12,
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc-go peer:", err)
		os.Exit(1)
	}
}

// serve echoes /EPS/Call (or answers it with fixed bytes, -answer), fails /EPS/Fail with PermissionDenied, never answers /EPS/Slow, and echoes
// every message of /EPS/ServerCall until the client ends its side or sends "end".
func serve(certDir string, port int, answer []byte) {
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	check(err)
	// The original server's options (docs/protocol.md#keepalive).
	server := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConfig(certDir, "ls-1", ""))),
		grpc.CustomCodec(rawCodec{}),
		grpc.MaxRecvMsgSize(4*1024*1024),
		grpc.MaxSendMsgSize(4*1024*1024),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 15 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 60 * time.Second, MaxConnectionAge: 24 * time.Hour,
			MaxConnectionAgeGrace: time.Minute, Time: time.Minute, Timeout: 30 * time.Second,
		}),
		grpc.UnknownServiceHandler(func(_ interface{}, stream grpc.ServerStream) error {
			method, _ := grpc.MethodFromServerStream(stream)
			switch method {
			case "/EPS/Call":
				var in []byte
				if err := stream.RecvMsg(&in); err != nil {
					return err
				}
				if answer != nil {
					return stream.SendMsg(&answer)
				}
				return stream.SendMsg(&in)
			case "/EPS/Fail":
				return status.Error(codes.PermissionDenied, "denied ✓ 100%")
			case "/EPS/Slow":
				// Answers only when the caller's deadline (grpc-timeout) has passed, with the status a
				// deadline gives, whichever side notices first.
				<-stream.Context().Done()
				return status.Error(codes.DeadlineExceeded, "deadline exceeded")
			case "/EPS/ServerCall":
				for {
					var in []byte
					err := stream.RecvMsg(&in)
					if err == io.EOF || string(in) == "end" {
						return nil
					}
					if err != nil {
						return err
					}
					if err := stream.SendMsg(&in); err != nil {
						return err
					}
				}
			}
			return status.Errorf(codes.Unimplemented, "unknown method %s", method)
		}),
	)
	fmt.Printf("listening %d\n", lis.Addr().(*net.TCPAddr).Port)
	check(server.Serve(lis))
}

type results struct {
	Calls       int      `json:"calls"`
	Echoed      int      `json:"echoed"`
	BigEchoed   bool     `json:"bigEchoed"`
	FailCode    string   `json:"failCode"`
	FailMessage string   `json:"failMessage"`
	SlowCode    string   `json:"slowCode"`
	Stream      []string `json:"stream"`
	StreamEnd   string   `json:"streamEnd"`
}

// run makes calls against a server (ours) with the original client's options (docs/protocol.md#keepalive).
func run(certDir, address string, calls int) {
	conn, err := grpc.Dial(address,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig(certDir, "hd-1", "ls-1"))),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true}),
	)
	check(err)
	defer conn.Close()
	ctx := context.Background()
	r := results{Calls: calls}

	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := []byte(fmt.Sprintf("call %d", i))
			var out []byte
			if err := conn.Invoke(ctx, "/EPS/Call", &in, &out); err == nil && string(out) == "re:"+string(in) {
				mu.Lock()
				r.Echoed++
				mu.Unlock()
			} else if err != nil {
				fmt.Fprintln(os.Stderr, "call failed:", err)
			}
		}(i)
	}
	wg.Wait()

	big := make([]byte, 3*1024*1024)
	for i := range big {
		big[i] = byte(i % 251)
	}
	var bigOut []byte
	err = conn.Invoke(ctx, "/EPS/Call", &big, &bigOut)
	r.BigEchoed = err == nil && len(bigOut) == len(big)+3 && string(bigOut[3:]) == string(big)

	var none []byte
	err = conn.Invoke(ctx, "/EPS/Fail", &none, &none)
	r.FailCode = status.Code(err).String()
	r.FailMessage = status.Convert(err).Message()

	slowCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = conn.Invoke(slowCtx, "/EPS/Slow", &none, &none)
	cancel()
	r.SlowCode = status.Code(err).String()

	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/EPS/ServerCall")
	check(err)
	for _, m := range []string{"a", "b", "c"} {
		msg := []byte(m)
		check(stream.SendMsg(&msg))
		var echo []byte
		check(stream.RecvMsg(&echo))
		r.Stream = append(r.Stream, string(echo))
	}
	check(stream.CloseSend())
	var last []byte
	r.StreamEnd = fmt.Sprint(stream.RecvMsg(&last))

	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// call sends one /EPS/Call with the given message bytes (hex) as the original eps client would (client
// certificate of `name`, TLS server name = the recipient) and prints the answer's bytes as hex.
func call(certDir, name, serverName, address, requestHex string) {
	conn, err := grpc.Dial(address,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig(certDir, name, serverName))),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
	)
	check(err)
	defer conn.Close()
	in, err := hex.DecodeString(requestHex)
	check(err)
	var out []byte
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check(conn.Invoke(ctx, "/EPS/Call", &in, &out))
	fmt.Println(hex.EncodeToString(out))
}

func main() {
	mode := flag.String("mode", "serve", "serve | run | call")
	certDir := flag.String("certs", "", "directory with root.crt, ls-1.*, hd-1.*")
	address := flag.String("address", "", "server address for -mode run and call")
	calls := flag.Int("calls", 200, "concurrent unary calls for -mode run")
	name := flag.String("name", "hd-1", "client certificate for -mode call")
	serverName := flag.String("server-name", "ls-1", "recipient operator for -mode call")
	request := flag.String("request", "", "hex of the Request message for -mode call")
	answerHex := flag.String("answer", "", "hex of a fixed Response to /EPS/Call for -mode serve")
	port := flag.Int("port", 0, "port for -mode serve (0: any free one)")
	flag.Parse()
	switch *mode {
	case "serve":
		var answer []byte
		if *answerHex != "" {
			var err error
			answer, err = hex.DecodeString(*answerHex)
			check(err)
		}
		serve(*certDir, *port, answer)
	case "call":
		call(*certDir, *name, *serverName, *address, *request)
	default:
		run(*certDir, *address, *calls)
	}
}
