package installproof

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// qmp is a client of QEMU's machine protocol (QMP) on a unix socket: it
// sends commands one at a time and keeps the events it receives.
type qmp struct {
	conn net.Conn
	mu   sync.Mutex // one command at a time

	replies chan qmpMessage
	events  chan string // event names
	done    chan struct{}
}

type qmpMessage struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	QMP   json.RawMessage `json:"QMP"`
}

// dialQMP connects to the socket, retrying until QEMU has created it or
// ctx ends, and negotiates capabilities.
func dialQMP(ctx context.Context, path string) (*qmp, error) {
	var conn net.Conn
	for {
		var err error
		conn, err = net.Dial("unix", path)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to QEMU's QMP socket %s: %w (last error: %v)", path, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	q := &qmp{conn: conn, replies: make(chan qmpMessage, 1), events: make(chan string, 64), done: make(chan struct{})}
	greeting := make(chan error, 1)
	go q.read(greeting)
	select {
	case err := <-greeting:
		if err != nil {
			conn.Close()
			return nil, err
		}
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	}
	if _, err := q.execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

// read dispatches QEMU's messages until the connection ends.
func (q *qmp) read(greeting chan<- error) {
	defer close(q.done)
	sc := bufio.NewScanner(q.conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	first := true
	for sc.Scan() {
		var m qmpMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		switch {
		case first && m.QMP != nil:
			first = false
			greeting <- nil
		case m.Event != "":
			select {
			case q.events <- m.Event:
			default: // nobody reads events that fast: drop
			}
		default:
			q.replies <- m
		}
	}
	if first {
		greeting <- errors.New("QEMU closed its QMP socket before greeting")
	}
}

// execute sends a command and waits for its reply.
func (q *qmp) execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := q.conn.Write(append(data, '\n')); err != nil {
		return nil, fmt.Errorf("QMP %s: %w", cmd, err)
	}
	select {
	case m := <-q.replies:
		if m.Error != nil {
			return nil, fmt.Errorf("QMP %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		}
		return m.Return, nil
	case <-q.done:
		return nil, fmt.Errorf("QMP %s: QEMU closed the connection", cmd)
	case <-ctx.Done():
		return nil, fmt.Errorf("QMP %s: %w", cmd, ctx.Err())
	}
}

func (q *qmp) Close() error { return q.conn.Close() }
