// gonet: a statically linked Go program (CGO_ENABLED=0) whose runtime makes
// the socket system calls itself, so LD_PRELOAD cannot reach it. The seccomp
// tests run it as a server, a client and a many-threaded socket opener:
//
//	gonet server ADDR          echo every connection; print what each socket is
//	gonet client ADDR NBYTES   send NBYTES, read them back, check them
//	gonet threads N PER        N goroutines, each locked to its own OS thread,
//	                           open PER TCP sockets each
//
// "What each socket is" is SO_PROTOCOL: 262 (MPTCP) or 6 (TCP).
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

const ipprotoMPTCP = 262

func protocolName(p int) string {
	switch p {
	case ipprotoMPTCP:
		return "MPTCP"
	case syscall.IPPROTO_TCP:
		return "TCP"
	}
	return strconv.Itoa(p)
}

// protocolOf asks the kernel what a connection or listener really is.
func protocolOf(c syscall.Conn) string {
	raw, err := c.SyscallConn()
	if err != nil {
		return "error: " + err.Error()
	}
	p := -1
	raw.Control(func(fd uintptr) {
		p, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PROTOCOL)
	})
	return protocolName(p)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((uint32(i) * 2654435761) >> 11)
	}
	return b
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gonet: "+format+"\n", a...)
	os.Exit(1)
}

func server(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("listening on %s socket: %s\n", addr, protocolOf(l.(*net.TCPListener)))
	for {
		c, err := l.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		fmt.Printf("accepted %s socket: %s\n", c.RemoteAddr(), protocolOf(c.(*net.TCPConn)))
		go func(c net.Conn) {
			defer c.Close()
			io.Copy(c, c)
		}(c)
	}
}

func client(addr string, n int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail("dial: %v", err)
	}
	defer c.Close()
	fmt.Printf("connected to %s socket: %s\n", addr, protocolOf(c.(*net.TCPConn)))
	want := pattern(n)
	go func() {
		c.Write(want)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		fail("read: %v", err)
	}
	intact := 0
	if bytes.Equal(got, want) {
		intact = n
	}
	fmt.Printf("echoed %d of %d bytes intact\n", intact, n)
	if intact != n {
		os.Exit(1)
	}
}

func threads(n, per int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	mptcp, tcp, errors := 0, 0, 0
	tids := map[int]bool{}
	start := make(chan struct{})
	for t := 0; t < n; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			runtime.LockOSThread() // one OS thread per goroutine
			family := syscall.AF_INET
			if t%2 == 1 {
				family = syscall.AF_INET6
			}
			<-start
			m, c, e := 0, 0, 0
			fds := make([]int, 0, per)
			for i := 0; i < per; i++ {
				fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
				if err != nil {
					e++
					continue
				}
				p, _ := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_PROTOCOL)
				if p == ipprotoMPTCP {
					m++
				} else {
					c++
				}
				fds = append(fds, fd)
			}
			for _, fd := range fds {
				syscall.Close(fd)
			}
			mu.Lock()
			mptcp, tcp, errors = mptcp+m, tcp+c, errors+e
			tids[syscall.Gettid()] = true
			mu.Unlock()
		}(t)
	}
	close(start)
	wg.Wait()
	fmt.Printf("threads=%d sockets=%d mptcp=%d tcp=%d errors=%d\n", len(tids), n*per, mptcp, tcp, errors)
}

func main() {
	args := os.Args[1:]
	num := func(s string) int {
		v, err := strconv.Atoi(s)
		if err != nil {
			fail("%q is not a number", s)
		}
		return v
	}
	switch {
	case len(args) == 2 && args[0] == "server":
		server(args[1])
	case len(args) == 3 && args[0] == "client":
		client(args[1], num(args[2]))
	case len(args) == 3 && args[0] == "threads":
		threads(num(args[1]), num(args[2]))
	default:
		fail("usage: gonet server ADDR | client ADDR NBYTES | threads N PER")
	}
}
