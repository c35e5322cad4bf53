package bus_test

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recall-drills/recall/targets/bus"
)

// Start a bus, publish one message and receive it.
func Example() {
	s, err := bus.Start() // 127.0.0.1, random port, silent
	if err != nil {
		panic(err)
	}
	defer s.Close()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("recall.events")
	if err != nil {
		panic(err)
	}
	if err := nc.Publish("recall.events", []byte(`{"version":1}`)); err != nil {
		panic(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(m.Data))
	// Output: {"version":1}
}
