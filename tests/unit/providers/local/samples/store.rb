# frozen_string_literal: true

# A tiny key-value store backed by a Hash.
require "json"
require_relative "errors"

module Cache
  VERSION = "1.2.0"

  # Stores values under string keys, with an optional expiry.
  class Store < Base
    include Enumerable

    attr_reader :size

    # Makes an empty store.
    def initialize(capacity: 100)
      @capacity = capacity
      @items = {}
    end

    # The value stored under +key+, or nil.
    def fetch(key, default = nil)
      @items.fetch(key, default)
    end

    def self.open(path)
      new.tap { |store| store.load(path) }
    end

    private

    def evict!
      @items.shift
    end
  end

  def self.default
    @default ||= Store.new
  end
end
