// Package answerloss is a toxiproxy toxic, lose_answers, that lets requests through and loses
// the answers: on the downstream stream, each of the first Count connections that carries data
// back has it dropped and is closed, as a connection reset after the server answered. The
// embedded runtime's in-process proxies and the recall-toxiproxy image both register it.
package answerloss

import (
	"sync/atomic"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// Type is the toxic's toxiproxy type name.
const Type = "lose_answers"

// Toxic loses the answers of the first Count connections; the others pass untouched.
type Toxic struct {
	Count int64 `json:"count"`
	lost  atomic.Int64
}

type state struct{ decided, lose bool }

// NewState implements toxics.StatefulToxic: a decision per connection.
func (t *Toxic) NewState() interface{} { return new(state) }

// Pipe implements toxics.Toxic.
func (t *Toxic) Pipe(stub *toxics.ToxicStub) {
	st := stub.State.(*state)
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if !st.decided {
				st.decided = true
				st.lose = t.take()
			}
			if st.lose {
				stub.Close() // the answer is dropped and the connection closed
				return
			}
			stub.Output <- c
		}
	}
}

// take counts one more lost answer unless Count are already lost.
func (t *Toxic) take() bool {
	for {
		n := t.lost.Load()
		if n >= t.Count {
			return false
		}
		if t.lost.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Lost is how many connections' answers were lost so far.
func (t *Toxic) Lost() int64 { return t.lost.Load() }

func init() { toxics.Register(Type, new(Toxic)) }
