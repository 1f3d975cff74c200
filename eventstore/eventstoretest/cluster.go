package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// NATSServer returns the path of the real nats-server binary, the
// pinned one scripts/test installs, as Tool finds it.
func NATSServer(t *testing.T) string {
	t.Helper()
	return Tool(t, "nats-server", "KCLEDGER_NATS_SERVER")
}

// Tool returns the path of a program the tests drive that scripts/test
// installs into .tools/bin: $env, then .tools/bin/name in the module's
// root, then $PATH. Without one it skips the test, or fails it when
// KCLEDGER_REQUIRE_TOOLS is set, as scripts/test sets it.
func Tool(t *testing.T, name, env string) string {
	t.Helper()
	candidates := []string{os.Getenv(env)}
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				candidates = append(candidates, filepath.Join(dir, ".tools", "bin", name))
				break
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if abs, err := filepath.Abs(c); err == nil {
			if st, err := os.Stat(abs); err == nil && !st.IsDir() {
				return abs
			}
		}
	}
	if os.Getenv("KCLEDGER_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is not installed: scripts/test installs it into .tools/bin", name)
	}
	t.Skipf("%s is not installed (scripts/test installs it into .tools/bin; set %s to use another)", name, env)
	return ""
}

// Cluster is a JetStream cluster of real nats-server processes on
// loopback, each fsyncing every write (sync_interval: always), with its
// store in a temporary directory, for tests that kill, pause and restart
// servers as an operator's machine would see it.
type Cluster struct {
	t     *testing.T
	bin   string
	Nodes []*Node
}

// Node is one server of a Cluster.
type Node struct {
	Name                    string
	ClientPort, ClusterPort int
	dir                     string
	cmd                     *exec.Cmd
	done                    chan struct{}
	paused                  bool
	held                    []net.Listener // its ports while it is down
}

// URL is the node's client URL.
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.ClientPort) }

// StartCluster starts n nats-server processes of one cluster and waits
// until JetStream answers. Ports are picked free and then given to the
// servers, so another process may take one in between: a cluster that
// does not start is stopped and started again on other ports, a bounded
// number of times.
func StartCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: NATSServer(t)}
	// The stores outlive stopAll, which shows their logs when the test
	// failed: cleanups run last registered first.
	root := t.TempDir()
	t.Cleanup(c.stopAll)
	for attempt := 1; ; attempt++ {
		err := c.tryStart(filepath.Join(root, fmt.Sprint("try", attempt)), n)
		if err == nil {
			break
		}
		c.stopAll()
		require.Less(t, attempt, 4, "a %d-server cluster never started: %v", n, err)
	}
	c.waitJetStream()
	return c
}

func (c *Cluster) tryStart(root string, n int) error {
	c.Nodes = nil
	for i := range n {
		c.Nodes = append(c.Nodes, &Node{Name: fmt.Sprintf("kcl-%d", i), ClientPort: freePort(c.t), ClusterPort: freePort(c.t),
			dir: filepath.Join(root, fmt.Sprintf("node%d", i))})
	}
	for _, nd := range c.Nodes {
		if err := c.start(nd); err != nil {
			return err
		}
	}
	for _, nd := range c.Nodes {
		if err := c.waitListening(nd); err != nil {
			return err
		}
	}
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) config(nd *Node) string {
	routes := make([]string, len(c.Nodes))
	for i, o := range c.Nodes {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", o.ClusterPort)
	}
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream { store_dir: %q, sync_interval: always }
cluster {
  name: kcledger-test
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, nd.Name, nd.ClientPort, filepath.Join(nd.dir, "js"), nd.ClusterPort, strings.Join(routes, ", "))
}

// start runs the node's process on its store, logging to its directory.
func (c *Cluster) start(nd *Node) error {
	if err := os.MkdirAll(nd.dir, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(nd.dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(c.config(nd)), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(nd.dir, "nats-server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	for _, l := range nd.held {
		_ = l.Close()
	}
	nd.held = nil
	cmd := exec.Command(c.bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	nd.cmd, nd.done, nd.paused = cmd, make(chan struct{}), false
	go func() { _ = cmd.Wait(); logf.Close(); close(nd.done) }()
	return nil
}

// waitListening waits until the node accepts NATS clients.
func (c *Cluster) waitListening(nd *Node) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-nd.done:
			return fmt.Errorf("%s exited: %s", nd.Name, c.logTail(nd))
		default:
		}
		nc, err := nats.Connect(nd.URL(), nats.MaxReconnects(0), nats.Timeout(time.Second))
		if err == nil {
			nc.Close()
			return nil
		}
		<-time.After(20 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept clients after 15s: %s", nd.Name, c.logTail(nd))
}

func (c *Cluster) logTail(nd *Node) string {
	b, _ := os.ReadFile(filepath.Join(nd.dir, "nats-server.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// waitJetStream waits until the cluster's JetStream answers (its meta
// leader is elected).
func (c *Cluster) waitJetStream() {
	c.t.Helper()
	nc := c.Connect()
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(c.t, err)
	require.Eventually(c.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	}, faultWait, 50*time.Millisecond, "the cluster's JetStream never answered")
}

// URLs is every node's client URL, comma separated, as --nats-url takes
// them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		urls[i] = nd.URL()
	}
	return strings.Join(urls, ",")
}

// Connect connects to the cluster, reconnecting to any node for ever.
func (c *Cluster) Connect() *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(c.t, err)
	return nc
}

// Node is the node named name.
func (c *Cluster) Node(name string) *Node {
	c.t.Helper()
	for _, nd := range c.Nodes {
		if nd.Name == name {
			return nd
		}
	}
	require.FailNow(c.t, "no server named "+name)
	return nil
}

// Kill kills the nodes' processes with SIGKILL (no shutdown, no flush),
// all at once, and holds their ports until Restart, so that no other
// process takes them: connections to them are closed at once.
func (c *Cluster) Kill(nodes ...*Node) {
	c.t.Helper()
	for _, nd := range nodes {
		require.NoError(c.t, nd.cmd.Process.Signal(syscall.SIGKILL))
	}
	for _, nd := range nodes {
		<-nd.done
		for _, port := range []int{nd.ClientPort, nd.ClusterPort} {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(c.t, err, "%s: hold port %d", nd.Name, port)
			go refuse(ln)
			nd.held = append(nd.held, ln)
		}
	}
}

// refuse closes every connection ln accepts, until ln is closed.
func refuse(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.Close()
	}
}

// Restart starts killed nodes again, all at once, each on its store and
// ports, and waits until they accept clients.
func (c *Cluster) Restart(nodes ...*Node) {
	c.t.Helper()
	for _, nd := range nodes {
		require.NoError(c.t, c.start(nd))
	}
	for _, nd := range nodes {
		require.NoError(c.t, c.waitListening(nd))
	}
}

// Pause stops the node's process with SIGSTOP: it keeps its connections
// and answers nothing, as a server that hangs.
func (c *Cluster) Pause(nd *Node) {
	c.t.Helper()
	require.NoError(c.t, nd.cmd.Process.Signal(syscall.SIGSTOP))
	nd.paused = true
}

// Resume continues a paused node with SIGCONT.
func (c *Cluster) Resume(nd *Node) {
	c.t.Helper()
	require.NoError(c.t, nd.cmd.Process.Signal(syscall.SIGCONT))
	nd.paused = false
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, nd := range c.Nodes {
		for _, l := range nd.held {
			_ = l.Close()
		}
		nd.held = nil
		if nd.cmd == nil {
			continue
		}
		select {
		case <-nd.done:
			continue
		default:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = nd.cmd.Process.Signal(syscall.SIGKILL)
			<-nd.done
		}()
	}
	wg.Wait()
	if c.t.Failed() {
		for _, nd := range c.Nodes {
			c.t.Logf("%s's log ends:\n%s", nd.Name, c.logTail(nd))
		}
	}
}

// StreamLeader is the name of the server leading the stream, once one
// does.
func StreamLeader(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	var leader string
	require.Eventually(t, func() bool {
		info, err := streamInfo(js, stream)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != ""
	}, faultWait, 50*time.Millisecond, "the stream has no leader")
	return leader
}

// StreamFollower is the name of a server that replicates the stream but
// does not lead it.
func StreamFollower(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	var follower string
	require.Eventually(t, func() bool {
		info, err := streamInfo(js, stream)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) == 0 {
			return false
		}
		follower = info.Cluster.Replicas[0].Name
		return true
	}, faultWait, 50*time.Millisecond, "the stream has no follower")
	return follower
}

// WaitCurrentReplicas waits until the stream has a leader and replicas-1
// followers, all online and current.
func WaitCurrentReplicas(t *testing.T, js jetstream.JetStream, stream string, replicas int) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, err := streamInfo(js, stream)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != replicas-1 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	}, faultWait, 50*time.Millisecond, "the stream's replicas never all caught up")
}

func streamInfo(js jetstream.JetStream, stream string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, errors.New("no stream info")
	}
	return info, nil
}
