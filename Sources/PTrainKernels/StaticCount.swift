/// A small count as a type. A kernel written as a generic function over it
/// is specialised per count, so the count is a constant in each
/// specialisation and its guards (`if N.value > 3 { ... }`) fold away: one
/// `switch` over the run-time count picks the specialisation, outside the
/// hot loop. (An always-inlined function called with literals was not
/// inlined: the specialisations came out as one function with a run-time
/// count; an unspecialised SIMD generic ran 30x slower.)
protocol StaticCount { static var value: Int { get } }
enum Count1: StaticCount { static var value: Int { 1 } }
enum Count2: StaticCount { static var value: Int { 2 } }
enum Count3: StaticCount { static var value: Int { 3 } }
enum Count4: StaticCount { static var value: Int { 4 } }
enum Count5: StaticCount { static var value: Int { 5 } }
enum Count6: StaticCount { static var value: Int { 6 } }
enum Count7: StaticCount { static var value: Int { 7 } }
enum Count8: StaticCount { static var value: Int { 8 } }
enum Count9: StaticCount { static var value: Int { 9 } }
enum Count10: StaticCount { static var value: Int { 10 } }
enum Count11: StaticCount { static var value: Int { 11 } }
enum Count12: StaticCount { static var value: Int { 12 } }
