/*
 * Copyright 2024 Example Corp.
 * Licensed under the Apache License, Version 2.0.
 */
package com.example.orders;

import java.util.List;
import java.util.Optional;

/**
 * Places and looks up customer orders.
 */
public class OrderService implements AutoCloseable {
    public static final int MAX_LINES = 50;
    private final OrderRepository repository;

    /** Creates a service over a repository. */
    public OrderService(OrderRepository repository) {
        this.repository = repository;
    }

    /**
     * Places an order and returns its id.
     * @param lines the order lines
     */
    public long place(List<OrderLine> lines) throws InvalidOrderException {
        return repository.insert(lines);
    }

    @Override
    public void close() {
    }

    protected Optional<Order> find(long id) {
        return repository.find(id);
    }

    private void validate(List<OrderLine> lines) {
    }

    /** The states an order goes through. */
    public enum State { NEW, PAID, SHIPPED }
}

interface OrderRepository {
    long insert(List<OrderLine> lines);
    Optional<Order> find(long id);
}
