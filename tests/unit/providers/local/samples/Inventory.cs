// Inventory tracking for the warehouse service.
using System;
using System.Collections.Generic;

namespace Warehouse.Inventory
{
    /// <summary>
    /// A stock item with a quantity on hand.
    /// </summary>
    public record Item(string Sku, int Quantity);

    public interface IStockRepository
    {
        Item? Find(string sku);
        void Save(Item item);
    }

    /// <summary>Keeps counts of items per SKU.</summary>
    public sealed class StockLedger : IDisposable
    {
        public const int MaxItems = 10_000;
        private readonly Dictionary<string, int> _counts = new();

        public StockLedger(IStockRepository repository)
        {
            Repository = repository;
        }

        public IStockRepository Repository { get; }

        /// <summary>Adds <paramref name="quantity"/> units of a SKU.</summary>
        public void Receive(string sku, int quantity)
        {
            _counts[sku] = Count(sku) + quantity;
        }

        public int Count(string sku) => _counts.TryGetValue(sku, out var n) ? n : 0;

        private void Audit() { }

        public void Dispose() { }
    }

    public enum StockState { InStock, Low, Out }
}
