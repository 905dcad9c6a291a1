package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// grpcService is the backend: the interop TestService, answering unary
// calls by echo (or by an error or a delay, chosen by the payload) and
// echoing every message of a full-duplex stream.
type grpcService struct {
	testpb.UnimplementedTestServiceServer
	// deadlines receives, for each "slow" call, the deadline the backend
	// saw (from grpc-timeout) and whether the call was cancelled before
	// the handler's own delay ran out.
	deadlines chan grpcSlowCall
}

type grpcSlowCall struct {
	hadDeadline bool
	remaining   time.Duration
	cancelled   bool
}

func (s *grpcService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	body := string(in.GetPayload().GetBody())
	switch body {
	case "notfound":
		return nil, status.Error(codes.NotFound, "no such widget: 42")
	case "slow":
		dl, ok := ctx.Deadline()
		call := grpcSlowCall{hadDeadline: ok, remaining: time.Until(dl)}
		select {
		case <-ctx.Done():
			call.cancelled = true
		case <-time.After(10 * time.Second):
		}
		s.deadlines <- call
		return &testpb.SimpleResponse{}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-echo-tenant", strings.Join(md.Get("x-tenant"), ",")))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "after-body"))
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: []byte("echo:" + body)}}, nil
}

func (s *grpcService) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	if md, _ := metadata.FromIncomingContext(stream.Context()); len(md.Get("x-server-first")) > 0 {
		// The server speaks first, before any request message exists.
		hello := &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte("hello")}}
		if err := stream.Send(hello); err != nil {
			return err
		}
	}
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			stream.SetTrailer(metadata.Pairs("x-stream-end", "ok"))
			return nil
		}
		if err != nil {
			return err
		}
		out := &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: append([]byte("pong:"), in.GetPayload().GetBody()...)}}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
}

// startGRPCBackend serves the TestService on 127.0.0.1 as h2c: a
// grpc.Server on a plain listener speaks HTTP/2 with prior knowledge.
func startGRPCBackend(t *testing.T) (*grpcService, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := &grpcService{deadlines: make(chan grpcSlowCall, 4)}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return svc, ln.Addr().String()
}

// TestGRPC sends gRPC through Gatehouse (TLS listener, HTTP/2) to an h2c
// backend: unary calls with headers and trailers, a full-duplex stream in
// lock step (so a buffering proxy would hang, not pass), a status code
// with its message, and a deadline that the backend sees and that ends
// the call promptly.
func TestGRPC(t *testing.T) {
	svc, backend := startGRPCBackend(t)
	ca := certs.NewCA(t, "gatehouse e2e CA")
	certFile, keyFile := certs.WriteFiles(t, t.TempDir(), "server", ca.Leaf(t, certs.Spec{Names: []string{"localhost", "127.0.0.1"}}))
	inst := start(t, fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: %q, key: %q }
routes:
  - match: { path: /grpc.testing.TestService/* }
    upstream: grpc
upstreams:
  grpc: { targets: [ "h2c://%s" ] }
`, certFile, keyFile, backend))

	conn, err := grpc.NewClient("passthrough:///"+inst.Addr, grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: ca.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := testpb.NewTestServiceClient(conn)

	t.Run("unary", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "x-tenant", "acme")
		var hdr, trl metadata.MD
		res, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}},
			grpc.Header(&hdr), grpc.Trailer(&trl))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res.GetPayload().GetBody()); got != "echo:hello" {
			t.Errorf("payload %q", got)
		}
		if got := hdr.Get("x-echo-tenant"); len(got) != 1 || got[0] != "acme" {
			t.Errorf("header metadata x-echo-tenant = %q (request metadata lost?)", got)
		}
		if got := trl.Get("x-trailer"); len(got) != 1 || got[0] != "after-body" {
			t.Errorf("trailer metadata x-trailer = %q (trailers dropped?)", got)
		}
	})

	t.Run("full duplex stream", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Lock step: message i+1 is sent only after reply i arrived.
		for i := range 5 {
			msg := fmt.Sprintf("ping-%d", i)
			if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			res, err := stream.Recv()
			if err != nil {
				t.Fatalf("recv %d: %v", i, err)
			}
			if got := string(res.GetPayload().GetBody()); got != "pong:"+msg {
				t.Fatalf("reply %d = %q", i, got)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("end of stream: %v, want io.EOF (status OK)", err)
		}
		if got := stream.Trailer().Get("x-stream-end"); len(got) != 1 || got[0] != "ok" {
			t.Errorf("stream trailer x-stream-end = %q", got)
		}
	})

	t.Run("server speaks first", func(t *testing.T) {
		// A bidirectional stream where the client waits for the server's
		// first message: a proxy that waits for the request body before
		// forwarding the request would deadlock here.
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		stream, err := client.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, "x-server-first", "1"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatalf("first message from the server: %v", err)
		}
		if got := string(res.GetPayload().GetBody()); got != "hello" {
			t.Fatalf("first message %q", got)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("end of stream: %v, want io.EOF", err)
		}
	})

	t.Run("status code and message", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("notfound")}})
		st, _ := status.FromError(err)
		if st.Code() != codes.NotFound || st.Message() != "no such widget: 42" {
			t.Fatalf("status %v %q, want NotFound %q", st.Code(), st.Message(), "no such widget: 42")
		}
	})

	t.Run("deadline", func(t *testing.T) {
		const deadline = 500 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		begin := time.Now()
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("slow")}})
		took := time.Since(begin)
		if st, _ := status.FromError(err); st.Code() != codes.DeadlineExceeded {
			t.Fatalf("status %v (%v), want DeadlineExceeded", st.Code(), err)
		}
		if took > deadline+2*time.Second {
			t.Errorf("DeadlineExceeded after %v, want about %v", took, deadline)
		}
		// The backend saw grpc-timeout (a deadline no later than ours)
		// and the cancellation reached it through the proxy.
		select {
		case call := <-svc.deadlines:
			if !call.hadDeadline || call.remaining > deadline {
				t.Errorf("backend deadline: present %t, remaining %v; want ≤ %v (grpc-timeout forwarded)", call.hadDeadline, call.remaining, deadline)
			}
			if !call.cancelled {
				t.Errorf("backend handler ran its full delay; the cancellation did not reach it")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("backend did not finish the slow call within 5s of the deadline; cancellation not forwarded")
		}
	})
}
