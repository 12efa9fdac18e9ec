/** Training of the bundled model on the reading-comprehension suite, with libtorch autograd. */
package io.tierkv.model.train;
