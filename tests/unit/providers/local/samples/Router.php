<?php
/**
 * Routes HTTP requests to controller actions.
 */

declare(strict_types=1);

namespace App\Http;

use App\Http\Controllers\HomeController;
use Psr\Http\Message\RequestInterface;

const DEFAULT_METHOD = 'GET';

interface Middleware
{
    public function handle(RequestInterface $request, callable $next): mixed;
}

/**
 * Matches a request's path against the registered routes.
 */
final class Router implements Middleware
{
    public const VERSION = '2.0';

    private array $routes = [];

    public function __construct(private string $prefix = '')
    {
    }

    /** Registers a handler for GET requests to $path. */
    public function get(string $path, callable $handler): static
    {
        $this->routes['GET'][$path] = $handler;
        return $this;
    }

    public function handle(RequestInterface $request, callable $next): mixed
    {
        return $next($request);
    }

    private function normalise(string $path): string
    {
        return rtrim($path, '/');
    }
}

function route_url(string $name, array $params = []): string
{
    return '/' . $name;
}
