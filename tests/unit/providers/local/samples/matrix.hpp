// Dense matrices of doubles with value semantics.
#pragma once

#include <cstddef>
#include <vector>

namespace linalg {

constexpr std::size_t kMaxDim = 4096;

/// A row-major matrix.
class Matrix {
public:
    Matrix(std::size_t rows, std::size_t cols);

    /// The element at row `r`, column `c`.
    double& at(std::size_t r, std::size_t c);
    std::size_t rows() const noexcept { return rows_; }

    Matrix operator*(const Matrix& other) const;

private:
    void check(std::size_t r, std::size_t c) const;
    std::size_t rows_, cols_;
    std::vector<double> data_;
};

template <typename T>
T dot(const std::vector<T>& a, const std::vector<T>& b);

Matrix identity(std::size_t n);

struct Shape {
    std::size_t rows;
    std::size_t cols;
};

}  // namespace linalg
