package core

// #include "gowsgi.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

var (
	errQueueFull    = errors.New("all Python threads are busy and the wait queue is full")
	errQueueTimeout = errors.New("no Python thread became free in time")
	errShuttingDown = errors.New("the application is shutting down")
)

// pool is the App's Python threads and the queue of requests waiting for
// them. Each thread is a goroutine locked to its own OS thread for the
// App's life, with one Python thread state made when it starts: Python
// sees Threads stable threads, so threading.local, threading.get_ident()
// and objects bound to their creating thread (sqlite3 connections) behave
// as under gunicorn. The first thread imports the application; in a
// worker process it is Python's main thread.
//
// A thread takes a request, runs the application, sends the response,
// closes the response iterable, and only then takes the next: all Python
// code of a request runs on its thread, and with one thread no two
// requests' Python code ever overlaps. Requests are taken in arrival
// order.
//
// A thread with nothing to do waits in the App's Poller, if no other
// thread does: the thread that reads a request then runs it, so a request
// costs no switch between threads, and a wait that returns many
// connections fills the queue for one thread to serve them all. The
// others park. A parked thread is woken for a request only when no other
// thread can take it soon: when none waits in the Poller, or when the busy
// ones stay in Python long (see beforePython, backstop), so that threads
// that would only take turns at the GIL stay parked.
//
// The queue is bounded: a flood costs a 503, never unbounded memory, nor
// goroutines blocked in cgo waiting for the GIL (only the Python threads
// ever enter Python).
type pool struct {
	app     *App
	threads []*pythonThread
	poller  *Poller

	mu         sync.Mutex
	queue      requestQueue
	idle       []*pythonThread // parked, the most recently parked last
	running    int             // threads not parked
	leading    bool            // a thread (or the backstop) harvests the Poller
	rescuing   bool            // ... the backstop, which runs no request
	handOver   bool            // a thread parked while the backstop harvested
	firstCalls []func()        // to run on the first thread (see callFirst)
	inPython   int             // threads running a request's Python code
	closed     bool

	queued  atomic.Int32 // the queue's length, for a waiting harvester
	waiting atomic.Bool  // the harvester blocks in the Poller: a request queued must wake it
	kicked  atomic.Bool  // it was woken already

	// Typical length of a request's run in Python (an average): when long
	// (the application waits on something), a thread about to run one
	// first wakes a parked thread to take the others.
	typicalRun atomic.Int64

	backstop     chan struct{} // armed when a thread enters Python
	lastYield    atomic.Int64  // when a thread last went through Go's scheduler (see yieldNowAndThen)
	watching     atomic.Bool   // the backstop is awake: no need to arm it
	saturated    atomic.Bool   // the backstop saw the process use its processor (see rescue)
	queueSize    int
	dedicated    bool          // Options.Dedicated
	queueTimeout time.Duration // negative: no limit

	served      atomic.Int64 // requests that ran the application
	maxRequests int64        // after this many, ask for a replacement (0: never)
	recycle     func(reason string)
	watch       *watchdog // nil without a request timeout

	stopJanitor chan struct{}
	exited      sync.WaitGroup // threads other than the first
}

// promoteAfter: requests whose Python run is typically this long or
// longer wait on something (a database, a sleep): while one runs, other
// threads should take the queue.
const promoteAfter = 500 * time.Microsecond

// pythonThread is one Python thread of a pool.
type pythonThread struct {
	pool    *pool
	index   int
	parked  int                     // an eventfd it waits on while parked (see park)
	current atomic.Pointer[Request] // the request it runs, for the watchdog
	pyStart atomic.Int64            // monotonic start of its Python call, 0 outside one

}

// Owner is the front end a request goes back to once a thread is
// through with it (or refused it: serveErr says why).
type Owner interface {
	// Finished completes the exchange (a 503 for a refused request, the
	// access log, the connection's next step) and returns the next
	// request of the same connection if it is ready to run at once.
	Finished(r *Request) *Request
	// Broken ends the exchange whose completion panicked: the
	// connection is closed.
	Broken()
}

func newPool(a *App) (*pool, error) {
	opts := &a.opts
	p := &pool{
		app:          a,
		queueSize:    opts.QueueSize,
		dedicated:    opts.Dedicated,
		queueTimeout: opts.QueueTimeout,
		maxRequests:  opts.MaxRequests,
		recycle:      opts.Recycle,
		stopJanitor:  make(chan struct{}),
		backstop:     make(chan struct{}, 1),
	}
	l, err := newPoller()
	if err != nil {
		return nil, err
	}
	p.poller = l
	p.queue.init(64)
	for i := 0; i < opts.Threads; i++ {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			l.close()
			return nil, os.NewSyscallError("eventfd", err)
		}
		p.threads = append(p.threads, &pythonThread{pool: p, index: i, parked: fd})
	}
	// Every thread counts as running until it first parks.
	p.running = opts.Threads
	return p, nil
}

// start starts the threads after the first, which loaded the application,
// and returns once each has its Python thread state.
func (p *pool) start() {
	ready := make(chan struct{})
	for _, t := range p.threads[1:] {
		p.exited.Add(1)
		go func() {
			defer p.exited.Done()
			runtime.LockOSThread()
			// Never unlocked: when this goroutine ends, its OS thread ends
			// with it, and no other goroutine inherits a Python thread.
			C.gw_thread_attach()
			ready <- struct{}{}
			t.loop()
			C.gw_thread_detach()
		}()
	}
	for range p.threads[1:] {
		<-ready
	}
	if p.app.opts.Timeout > 0 {
		p.watch = newWatchdog(p, p.app.opts.Timeout)
	}
	if p.queueTimeout >= 0 {
		go p.janitor()
	}
	go p.backstopLoop()
}

// serve runs r on a Python thread and returns once its response is
// complete, for front ends with a goroutine per exchange (net/http, the
// gateways). It fails, without running r, when the queue is full, when no
// thread takes r within the queue timeout, or when the pool is closing:
// the front end then answers 503.
func (p *pool) serve(r *Request) error {
	r.owner = waitingOwner{}
	p.submit(r)
	<-r.done
	return r.serveErr
}

// waitingOwner hands a request back to the goroutine waiting in serve.
type waitingOwner struct{}

func (waitingOwner) Finished(r *Request) *Request {
	r.done <- struct{}{}
	return nil
}

func (waitingOwner) Broken() {}

// submit queues r for a thread; a request the queue refuses goes back to
// its owner with the reason.
func (p *pool) submit(r *Request) {
	for r != nil {
		err := p.enqueue(r)
		if err == nil {
			return
		}
		r.serveErr = err
		r = p.finished(r)
	}
}

func (p *pool) enqueue(r *Request) error {
	r.queuedAt = Monotonic()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errShuttingDown
	}
	if p.queue.len() >= p.queueSize {
		p.mu.Unlock()
		return errQueueFull
	}
	p.queue.push(r)
	p.queued.Add(1)
	// A thread harvesting the Poller takes the queue when it is through;
	// else a parked thread is woken for it. Busy threads take it when
	// they finish.
	var t *pythonThread
	if !p.leading || p.rescuing {
		t = p.takeIdle()
	}
	p.mu.Unlock()
	if t != nil {
		t.wake()
	} else if p.waiting.Load() && p.kicked.CompareAndSwap(false, true) {
		p.poller.Wake()
	}
	return nil
}

// park waits for wake. The thread waits in the kernel, not in Go's
// scheduler: woken, it takes the processor back at once from a thread
// that is in Python or in a system call, instead of waiting for the
// scheduler to notice it is runnable (with one processor, and that held by
// a thread in Python, that can take a while).
func (t *pythonThread) park() {
	var buf [8]byte
	for {
		if _, err := unix.Read(t.parked, buf[:]); err != unix.EINTR {
			return
		}
	}
}

func (t *pythonThread) wake() { unix.Write(t.parked, eventfdOne) }

// takeIdle takes the most recently parked thread, if any, to wake it.
// p.mu is held.
func (p *pool) takeIdle() *pythonThread {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	t := p.idle[n-1]
	p.idle = p.idle[:n-1]
	p.running++
	return t
}

func (p *pool) pop() *Request {
	r := p.queue.pop()
	if r != nil {
		p.queued.Add(-1)
	}
	return r
}

// next is the thread's next request: the oldest queued one, else, if no
// thread does, it waits in the Poller for one; else it parks until woken.
// nil means the pool is closing.
func (t *pythonThread) next() *Request {
	p := t.pool
	p.mu.Lock()
	for {
		if t.index == 0 && len(p.firstCalls) > 0 {
			calls := p.firstCalls
			p.firstCalls = nil
			p.mu.Unlock()
			for _, f := range calls {
				f()
			}
			p.mu.Lock()
			continue
		}
		if r := p.pop(); r != nil {
			p.mu.Unlock()
			return r
		}
		if p.closed {
			p.running--
			p.mu.Unlock()
			return nil
		}
		if !p.leading {
			p.leading = true
			p.mu.Unlock()
			p.harvest()
			p.mu.Lock()
			p.leading = false
			continue
		}
		p.running--
		p.idle = append(p.idle, t)
		// The backstop waits in the Poller for want of a free thread: here
		// is one, to take its place.
		handOver := p.rescuing
		p.handOver = p.handOver || handOver
		p.mu.Unlock()
		if handOver {
			p.poller.Wake()
		}
		t.park()
		p.mu.Lock()
		// Woken without being taken (by callFirst): not idle any more.
		if i := slices.Index(p.idle, t); i >= 0 {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.running++
		}
	}
}

// callFirst runs f on the first thread, between two requests, and waits
// up to limit for it: false if the thread did not take it in time (it is
// stuck in a request), and f will then not run.
func (p *pool) callFirst(f func(), limit time.Duration) bool {
	done := make(chan struct{})
	var once sync.Once
	run := func() { once.Do(func() { f(); close(done) }) }
	p.mu.Lock()
	p.firstCalls = append(p.firstCalls, run)
	p.mu.Unlock()
	p.threads[0].wake() // if it is parked
	p.poller.Wake()     // if it waits in the Poller
	select {
	case <-done:
		return true
	case <-time.After(limit):
		claimed := true
		once.Do(func() { claimed = false })
		if claimed {
			<-done // it started meanwhile
			return true
		}
		return false
	}
}

// harvest waits in the Poller until something happens, unless requests are
// queued already.
func (p *pool) harvest() { p.waitInLoop(false) }

// waitInLoop harvests the Poller, waiting for something to happen if there
// is nothing queued (or always, if always).
func (p *pool) waitInLoop(always bool) {
	// The harvester says it waits before it looks at the queue, and
	// enqueue looks at waiting after it queued: one of the two sees the
	// other, so a request queued as the harvester goes to wait always
	// wakes it.
	p.waiting.Store(true)
	wait := always || p.queued.Load() == 0
	if wait {
		BeforeWait.run(nil)
	}
	p.poller.harvest(wait, p.waitInKernel(), &p.waiting)
	p.kicked.Store(false)
}

// waitInKernel says whether waits in the Poller may hold a Go processor
// (see Options.Dedicated).
func (p *pool) waitInKernel() bool { return p.dedicated || runtime.GOMAXPROCS(0) > 1 }

// loop serves requests until the pool closes.
func (t *pythonThread) loop() {
	for r := t.next(); r != nil; r = t.next() {
		for r != nil {
			r = t.run(r)
		}
		t.yieldNowAndThen()
	}
}

// yieldEvery: a thread that serves request after request never goes
// through Go's scheduler, and the runtime's monitor takes one that has not
// for 10 ms for a goroutine hogging its processor: it then takes the
// processor back from it at every look, waking another OS thread each
// time. Yielding before that costs two switches of OS thread every few
// milliseconds instead.
const yieldEvery = 8 * time.Millisecond

func (t *pythonThread) yieldNowAndThen() {
	p := t.pool
	now := CoarseNow()
	if last := p.lastYield.Load(); time.Duration(now-last) >= yieldEvery && p.lastYield.CompareAndSwap(last, now) {
		// A timer's wake-up puts it back at the head of its processor's
		// queue (runtime.Gosched would put it at the end of the global
		// one, behind every other goroutine).
		time.Sleep(time.Nanosecond)
	}
}

// run runs one request and its response, gives it back to its front end,
// and returns the connection's next request if that is ready already.
func (t *pythonThread) run(r *Request) *Request {
	p := t.pool
	start := Monotonic()
	if p.queueTimeout >= 0 && time.Duration(start-r.queuedAt) > p.queueTimeout {
		r.serveErr = errQueueTimeout
	} else {
		r.serveErr = nil
		t.serve(r, start)
	}
	return p.finished(r)
}

// serve runs the application for r and sends its response.
func (t *pythonThread) serve(r *Request, start int64) {
	p := t.pool
	defer func() {
		if v := recover(); v != nil {
			p.recoverRequest(r, v)
		}
	}()
	r.generation++
	r.c.generation = C.uint64_t(r.generation)
	if p.watch != nil {
		r.startClock()
		t.current.Store(r)
		defer t.current.Store(nil)
	}
	t.beforePython(start)
	C.gw_handle(p.app.c, r.c)
	t.afterPython(start)
	if n := p.served.Add(1); n == p.maxRequests && p.recycle != nil {
		p.recycle(fmt.Sprintf("served %d requests (max requests)", n))
	}
	BeforeFinish.run(r)
	r.finish()
}

// finished gives r back to its front end. A panic there (the next
// request's head, say) closes the connection, whatever its state.
func (p *pool) finished(r *Request) (next *Request) {
	owner := r.owner
	defer func() {
		if v := recover(); v != nil {
			p.app.log.Error("panic completing a request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			owner.Broken()
			next = nil
		}
	}()
	return owner.Finished(r)
}

// beforePython is a thread's last step before it runs a request's Python
// code. If requests typically run long, a parked thread is woken to take
// the queue (or the Poller) meanwhile. Either way the backstop is armed: it
// runs only if this thread stays in Python long enough for the Go
// scheduler to take its processor back (see rescue).
func (t *pythonThread) beforePython(now int64) {
	p := t.pool
	t.pyStart.Store(now)
	p.mu.Lock()
	p.inPython++
	var idle *pythonThread
	if time.Duration(p.typicalRun.Load()) >= promoteAfter && !p.saturated.Load() && (p.queue.len() > 0 || !p.leading) {
		idle = p.takeIdle()
	}
	p.mu.Unlock()
	if idle != nil {
		idle.wake()
	}
	if !p.watching.Load() {
		select {
		case p.backstop <- struct{}{}:
		default:
		}
	}
}

func (t *pythonThread) afterPython(start int64) {
	p := t.pool
	d := Monotonic() - start
	avg := p.typicalRun.Load()
	p.typicalRun.Store(avg + (d-avg)/8)
	t.pyStart.Store(0)
	p.mu.Lock()
	p.inPython--
	p.mu.Unlock()
}

// How long a thread must have been in Python before the backstop acts for
// the requests that wait meanwhile: a shorter call ends before anything is
// gained by waking another thread. While calls stay short the backstop
// looks less often (quietLooks), so it may act up to 8 times later for the
// first long call; requests that typically run long wake a thread
// themselves (beforePython). With no other thread to wake, what the
// backstop can do (read requests to queue or refuse them, time idle
// connections out) can wait longer.
const (
	rescueAfter      = 2 * time.Millisecond
	rescueAloneAfter = 100 * time.Millisecond
)

// quietLooks: after every fourth look in a row that finds only short calls,
// the backstop looks half as often, down to one look in 8 rescueAfter
// (16 ms): each look wakes a thread of the runtime, which on one CPU
// takes the processor from the Python thread.
const quietLooks = 12

// saturatedAt is the share of one processor the process uses when the GIL
// (or the processor) is what bounds it: another Python thread would then
// only take turns with the running one, so none is woken.
const saturatedAt = 0.9

// backstopLoop is the goroutine that keeps requests moving while the
// threads are in Python. A thread entering Python arms it; it watches
// until no thread is in Python any more, looking every so often (with one
// processor, it runs only when the scheduler takes the processor from a
// thread that stayed in Python or in a wait).
func (p *pool) backstopLoop() {
	for range p.backstop {
		p.watching.Store(true)
		p.rescue()
		p.watching.Store(false)
		// A thread that entered Python meanwhile did not arm it.
		if t, _ := p.longestInPython(); t != nil {
			select {
			case p.backstop <- struct{}{}:
			default:
			}
		}
	}
}

// rescue acts once a thread has been in Python for rescueAfter. If the
// process is not using the processor (the calls wait on something: a
// database, a sleep), it wakes parked threads for the queued requests, and
// one to harvest the Poller nobody harvests. With every thread busy it
// harvests the Poller itself, waiting in it on its own OS thread until a
// thread is free again, so that requests are read, queued, or refused
// with a 503, and idle connections time out.
func (p *pool) rescue() {
	after := rescueAfter
	if len(p.threads) == 1 {
		after = rescueAloneAfter
	}
	var cpu processCPU
	cpu.start()
	lastServed := int64(-1)
	quiet := 0 // looks in a row that found every call short
	for {
		t, age := p.longestInPython()
		saturated := cpu.saturated()
		p.saturated.Store(saturated)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		blocked := age >= after && !saturated
		forQueue := p.queue.len() > 0 && blocked
		toLead := !p.leading && (p.handOver || blocked)
		p.handOver = false
		if len(p.idle) > 0 && (forQueue || toLead) {
			idle := p.takeIdle()
			p.mu.Unlock()
			idle.wake()
			if forQueue {
				continue
			}
			return // it takes the Poller over
		}
		if t == nil {
			p.mu.Unlock()
			// Requests keep coming: look again instead of being armed
			// anew by the next one (waking an OS thread each time when
			// there are other processors); none for a while: park.
			if served := p.served.Load(); served != lastServed {
				lastServed = served
				quiet = min(quiet+1, quietLooks)
				time.Sleep(after << (quiet / 4))
				continue
			}
			return
		}
		if age < after || p.leading || len(p.idle) > 0 {
			// Look again once the longest call now running would be due,
			// or later when calls have been short for a while.
			p.mu.Unlock()
			if age < after/2 {
				quiet = min(quiet+1, quietLooks)
			} else {
				quiet = 0
			}
			time.Sleep(max(after-age, after/4) << (quiet / 4))
			continue
		}
		quiet = 0
		p.leading, p.rescuing = true, true
		p.mu.Unlock()
		// Wait for the Poller even with requests queued: they are the
		// threads'; this harvests what comes meanwhile.
		p.waitInLoop(true)
		p.mu.Lock()
		p.leading, p.rescuing = false, false
		p.mu.Unlock()
	}
}

// processCPU tells whether the process used most of a processor since the
// last look.
type processCPU struct{ wall, cpu int64 }

func processCPUTime() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

func (c *processCPU) start() { c.wall, c.cpu = Monotonic(), processCPUTime() }

func (c *processCPU) saturated() bool {
	wall, cpu := Monotonic(), processCPUTime()
	busy := float64(cpu-c.cpu) >= saturatedAt*float64(wall-c.wall)
	c.wall, c.cpu = wall, cpu
	return busy
}

// longestInPython is the thread in Python the longest, and for how long.
func (p *pool) longestInPython() (*pythonThread, time.Duration) {
	var oldest *pythonThread
	var since int64
	for _, t := range p.threads {
		if s := t.pyStart.Load(); s != 0 && (oldest == nil || s < since) {
			oldest, since = t, s
		}
	}
	if oldest == nil {
		return nil, 0
	}
	return oldest, time.Duration(Monotonic() - since)
}

// recoverRequest turns a panic while running or sending a request into a
// log line with the stack and a closed connection (a 500 if nothing was
// sent): one broken exchange must not take the process down.
func (p *pool) recoverRequest(r *Request, v any) {
	p.app.log.Error("panic serving a request", "request", r.describe(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	for _, t := range p.threads {
		if t.pyStart.Load() != 0 && t.current.Load() == r {
			t.pyStart.Store(0)
		}
	}
	r.abandon()
}

// close turns queued and new requests away, lets the running ones finish,
// and stops the threads after the first, which returns from its loop.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var refused []*Request
	for r := p.pop(); r != nil; r = p.pop() {
		refused = append(refused, r)
	}
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	close(p.stopJanitor)
	for _, r := range refused {
		r.serveErr = errShuttingDown
		p.submit(p.finished(r))
	}
	for _, t := range idle {
		t.wake()
	}
	p.poller.Wake() // the thread waiting there
	if p.watch != nil {
		p.watch.stop()
	}
}

// release frees what the threads leave behind, once they are gone.
func (p *pool) release() {
	close(p.backstop)
	p.poller.close()
	for _, t := range p.threads {
		unix.Close(t.parked)
	}
}

// busy is the number of threads that are not parked or waiting in the
// Poller.
func (p *pool) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.running
	if p.leading && n > 0 {
		n--
	}
	return n
}

// waiting is the number of requests waiting for a thread.
func (p *pool) waitingRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queue.len()
}

// janitor answers requests that waited past the queue timeout while every
// thread was busy (stuck, say): a thread that takes a request checks its
// age, but a stuck thread takes none.
func (p *pool) janitor() {
	tick := time.NewTicker(min(max(p.queueTimeout/4, time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-p.stopJanitor:
			return
		case <-tick.C:
		}
		now := Monotonic()
		var expired []*Request
		p.mu.Lock()
		for r := p.queue.peek(); r != nil && time.Duration(now-r.queuedAt) > p.queueTimeout; r = p.queue.peek() {
			expired = append(expired, p.pop())
		}
		p.mu.Unlock()
		for _, r := range expired {
			r.serveErr = errQueueTimeout
			p.submit(p.finished(r))
		}
	}
}

// requestQueue is a FIFO ring of requests.
type requestQueue struct {
	items      []*Request
	head, size int
}

func (q *requestQueue) init(n int) { q.items = make([]*Request, max(n, 1)) }

func (q *requestQueue) len() int { return q.size }

func (q *requestQueue) push(r *Request) {
	if q.size == len(q.items) {
		grown := make([]*Request, 2*len(q.items))
		for i := 0; i < q.size; i++ {
			grown[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = grown, 0
	}
	q.items[(q.head+q.size)%len(q.items)] = r
	q.size++
}

func (q *requestQueue) peek() *Request {
	if q.size == 0 {
		return nil
	}
	return q.items[q.head]
}

func (q *requestQueue) pop() *Request {
	if q.size == 0 {
		return nil
	}
	r := q.items[q.head]
	q.items[q.head] = nil
	q.head = (q.head + 1) % len(q.items)
	q.size--
	return r
}
