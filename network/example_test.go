package network_test

import (
	"fmt"

	"github.com/nookrun/nook/netns"
	"github.com/nookrun/nook/network"
)

// The classic walkthrough: two named namespaces and a veth pair between
// them, 10.0.0.1/24 and 10.0.0.2/24, links and loopbacks up.
func ExampleConnect() {
	for _, n := range []string{"red", "blue"} {
		if err := netns.Add(n); err != nil {
			fmt.Println(err)
			return
		}
		defer netns.Delete(n)
	}
	err := network.Connect(
		network.End{Namespace: "red", Addr: "10.0.0.1/24"},
		network.End{Namespace: "blue", Addr: "10.0.0.2/24"},
		network.ConnectOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := network.Show("red")
	for _, l := range info.Links {
		fmt.Println(l.Name, l.Type, l.Up, l.Addrs)
	}
}
