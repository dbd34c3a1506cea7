// Package pool manages a fixed set of reusable worker goroutines.
package pool

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("pool: closed")

const defaultSize = 4

// Task is one unit of work.
type Task func(ctx context.Context) error

// Pool runs tasks on a fixed number of goroutines.
type Pool struct {
	tasks chan Task
	wg    sync.WaitGroup
}

// Runner is anything that can run a Task.
type Runner interface {
	Submit(t Task) error
}

// New starts a pool of size workers.
func New(size int) *Pool {
	p := &Pool{tasks: make(chan Task)}
	return p
}

// Submit queues t, or fails with ErrClosed.
func (p *Pool) Submit(t Task) error {
	return nil
}

// Close stops accepting tasks and waits for the running ones.
func (p *Pool) Close() {
	p.wg.Wait()
}

func (p *Pool) worker(ctx context.Context) {
}

func clamp(n, low, high int) int {
	return n
}
