/**
 * Schedules periodic jobs on a coroutine scope.
 */
package com.example.jobs

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.launch
import kotlin.time.Duration

const val MIN_INTERVAL_MS = 100L

/** One job and how often it runs. */
data class Job(val name: String, val interval: Duration, val action: suspend () -> Unit)

/** Runs jobs at their intervals until cancelled. */
class Scheduler(private val scope: CoroutineScope) {
    private val jobs = mutableListOf<Job>()

    /** Adds a job to run every `interval`. */
    fun schedule(job: Job): Scheduler {
        jobs += job
        return this
    }

    suspend fun runOnce() {
        jobs.forEach { it.action() }
    }

    private fun log(message: String) = println(message)

    companion object {
        fun default(scope: CoroutineScope) = Scheduler(scope)
    }
}

sealed interface Outcome

object Registry {
    fun all(): List<Job> = emptyList()
}

fun Duration.isTooShort(): Boolean = inWholeMilliseconds < MIN_INTERVAL_MS

private fun backoff(attempt: Int): Long = 1L shl attempt
